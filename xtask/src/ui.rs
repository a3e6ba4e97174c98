//! Building the Leptos UI to `ui/dist` with trunk (offline, no wasm-opt: Debian's binaryen is too
//! old for the wasm trunk emits).

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

pub fn build(workspace: &Workspace) -> Result<(), XtaskError> {
    eprintln!("== building the UI (trunk)");
    process::run(
        process::command(workspace, "trunk")
            .current_dir(workspace.ui_dir())
            .args(["build", "--offline", "--release", "--locked"]),
    )
}
