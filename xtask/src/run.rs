//! `cargo xtask run`: open the desktop app, or host headlessly when there is no display.

use std::process::ExitCode;

use crate::app::{self, CLI_BINARY, DESKTOP_BINARY};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

/// Headless default: development keys, reachable only from this computer.
const HEADLESS_DEFAULT_ARGS: &[&str] = &["--dev", "--bind", "127.0.0.1", "--node-ip", "127.0.0.1"];

pub fn run(workspace: &Workspace, passthrough: &[&str]) -> Result<ExitCode, XtaskError> {
    let release = app::build(workspace)?;
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let status = if has_display {
        eprintln!("== opening Confab");
        process::status(&mut process::command(
            workspace,
            release.join(DESKTOP_BINARY),
        ))?
    } else {
        let args = if passthrough.is_empty() {
            HEADLESS_DEFAULT_ARGS
        } else {
            passthrough
        };
        eprintln!(
            "\nNo display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the desktop window\n\
             cannot open. Starting the headless host instead: `confab server {}`.\n\
             Pass other server flags with `cargo xtask run -- <flags>` (see `confab server --help`);\n\
             stop it with Ctrl-C.\n",
            args.join(" ")
        );
        process::status(
            process::command(workspace, release.join(CLI_BINARY))
                .arg("server")
                .args(args),
        )?
    };
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .map_or(ExitCode::FAILURE, ExitCode::from))
}
