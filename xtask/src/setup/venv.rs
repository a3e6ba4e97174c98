//! Python virtual environments for tools pip installs (meson, the conformance peers).

use std::ffi::OsStr;
use std::path::Path;

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

/// Creates `venv` if it has no interpreter yet, then `pip install`s `packages` into it.
pub fn pip_install<S: AsRef<OsStr>>(
    workspace: &Workspace,
    venv: &Path,
    packages: &[S],
) -> Result<(), XtaskError> {
    if !venv.join("bin").join("python").is_file() {
        process::run(
            process::command(workspace, "python3")
                .args(["-m", "venv"])
                .arg(venv),
        )?;
    }
    process::run(
        process::command(workspace, venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages),
    )
}
