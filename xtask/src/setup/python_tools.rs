//! The project-local Python environment (`tools/venv`, git-ignored) with LiveKit's Python SDK
//! for the conformance tier, pinned in `tests/conformance/python/requirements.txt`.

use std::ffi::OsStr;

use crate::error::XtaskError;
use crate::paths::Workspace;

/// Written after a successful install; holds the requirements it installed.
const MARKER: &str = ".confab-requirements";

pub fn ensure(workspace: &Workspace) -> Result<(), XtaskError> {
    let requirements_path = workspace.python_requirements();
    let requirements =
        std::fs::read_to_string(&requirements_path).map_err(XtaskError::io(&requirements_path))?;
    let venv = workspace.python_venv();
    let marker = venv.join(MARKER);
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == requirements) {
        eprintln!("python tools: conformance requirements present");
        return Ok(());
    }
    super::venv::pip_install(
        workspace,
        &venv,
        &[OsStr::new("-r"), requirements_path.as_os_str()],
    )?;
    std::fs::write(&marker, requirements).map_err(XtaskError::io(&marker))
}
