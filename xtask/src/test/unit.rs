//! Unit and property tests of every host crate (libraries and binaries, incl. xtask itself).

use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let (status, lines) = process::run_streaming(
        process::command(workspace, "cargo")
            .args(["test", "--release", "--locked", "--lib", "--bins"])
            .args(HOST_PACKAGES),
    )?;
    Ok(with_exit_status(
        Counts::from_test_output(&lines),
        status.success(),
    ))
}

/// A failed command whose output reported no failure (e.g. a compile error) is one failure.
pub fn with_exit_status(mut counts: Counts, success: bool) -> Counts {
    if !success && counts.failed == 0 {
        counts.failed = 1;
    }
    counts
}
