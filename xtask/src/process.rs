//! Running other programs: every command is echoed, runs from the checkout root with the
//! project's tool directories on `PATH`, and fails loudly.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use crate::error::XtaskError;
use crate::paths::Workspace;

/// Directories searched before the inherited `PATH`: cargo-installed tools, the meson venv and
/// the project-local npm tools.
fn tool_dirs(workspace: &Workspace) -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    cargo_home
        .map(|home| home.join("bin"))
        .into_iter()
        .chain([
            workspace.meson_venv().join("bin"),
            workspace.tools_dir().join("node_modules").join(".bin"),
        ])
        .collect()
}

fn search_path(workspace: &Workspace) -> OsString {
    prepend_missing(std::env::var_os("PATH"), tool_dirs(workspace))
}

/// `dirs` (those not already there) followed by the inherited list. Idempotent, so nested
/// invocations (xtask → cargo test → `cargo xtask run`) see exactly the same value: build
/// scripts of `-sys` crates rerun whenever `PKG_CONFIG_PATH` changes.
fn prepend_missing(inherited: Option<OsString>, dirs: Vec<PathBuf>) -> OsString {
    let inherited = inherited.unwrap_or_default();
    // An empty entry would mean "the current directory"; `split_paths("")` yields one.
    let existing: Vec<PathBuf> = std::env::split_paths(&inherited)
        .filter(|dir| !dir.as_os_str().is_empty())
        .collect();
    let added = dirs.into_iter().filter(|dir| !existing.contains(dir));
    std::env::join_paths(added.chain(existing.iter().cloned())).unwrap_or(inherited)
}

/// A command for `program` with the project's environment: tool dirs on `PATH`, the cached
/// abseil on `PKG_CONFIG_PATH` (for webrtc-audio-processing's bundled build), cwd = checkout.
pub fn command(workspace: &Workspace, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(&workspace.root);
    command.env("PATH", search_path(workspace));
    let abseil_pkgconfig = workspace.abseil_prefix().join("lib").join("pkgconfig");
    command.env(
        "PKG_CONFIG_PATH",
        prepend_missing(std::env::var_os("PKG_CONFIG_PATH"), vec![abseil_pkgconfig]),
    );
    command
}

/// Whether `program` is found on the project's search path.
pub fn exists(workspace: &Workspace, program: &str) -> bool {
    std::env::split_paths(&search_path(workspace)).any(|dir| dir.join(program).is_file())
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_error(command: &Command) -> impl FnOnce(std::io::Error) -> XtaskError {
    let program = command.get_program().to_string_lossy().into_owned();
    move |source| XtaskError::Spawn { program, source }
}

/// Runs to completion with inherited output; a non-zero exit is an error.
pub fn run(command: &mut Command) -> Result<(), XtaskError> {
    let status = status(command)?;
    if status.success() {
        Ok(())
    } else {
        Err(XtaskError::CommandFailed {
            command: describe(command),
            status: status.to_string(),
        })
    }
}

/// Runs to completion with inherited output and returns the exit status.
pub fn status(command: &mut Command) -> Result<ExitStatus, XtaskError> {
    eprintln!("$ {}", describe(command));
    command.status().map_err(spawn_error(command))
}

/// Runs, echoing stdout line by line as it arrives, and returns the status and those lines.
pub fn run_streaming(command: &mut Command) -> Result<(ExitStatus, Vec<String>), XtaskError> {
    eprintln!("$ {}", describe(command));
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn_error(command))?;
    let mut lines = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            lines.push(line);
        }
    }
    let status = child.wait().map_err(spawn_error(command))?;
    Ok((status, lines))
}

/// Stdout of a command that succeeded, or `None` (quietly) when it failed or is missing.
pub fn output(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepending_is_idempotent() {
        let once = prepend_missing(Some("/usr/bin:/bin".into()), vec!["/opt/tool".into()]);
        assert_eq!(once, OsString::from("/opt/tool:/usr/bin:/bin"));
        let twice = prepend_missing(Some(once.clone()), vec!["/opt/tool".into()]);
        assert_eq!(twice, once);
        assert_eq!(
            prepend_missing(None, vec!["/opt/tool".into()]),
            OsString::from("/opt/tool")
        );
        assert_eq!(
            prepend_missing(Some("/a::/b:".into()), vec![]),
            OsString::from("/a:/b")
        );
    }
}
