//! Conformance with real LiveKit peers nobody here wrote: LiveKit's Python SDK (`livekit-api`
//! and its protocol bindings) against `confab server`, over loopback (Twirp and signalling need
//! no libwebrtc, so no network namespace yet).

use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let release = app::build_binaries(workspace)?;
    let python = workspace.python_venv().join("bin").join("python");
    let (status, lines) = process::run_streaming(
        process::command(workspace, python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(workspace.conformance_dir().join("python"))
            .env("CONFAB_BIN", release.join(CLI_BINARY)),
    )?;
    Ok(with_exit_status(
        Counts::from_pytest_output(&lines),
        status.success(),
    ))
}
