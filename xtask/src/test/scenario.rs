//! Scenario tests: each crate's integration tests (`crates/*/tests/*.rs`), e.g. the SFU with
//! real clients over loopback sockets, and the client engine against the embedded SFU and a
//! real `livekit-server` (built here, passed as `CONFAB_LIVEKIT_SERVER`).

use std::path::Path;

use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::livekit_server;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let targets = integration_test_targets(&workspace.root.join("crates"))?;
    if targets.is_empty() {
        return Err(XtaskError::Unexpected(
            "no integration tests found under crates/*/tests".into(),
        ));
    }
    let livekit = livekit_server::ensure(workspace)?;
    let mut command = process::command(workspace, "cargo");
    command
        .env("CONFAB_LIVEKIT_SERVER", livekit)
        .args(["test", "--release", "--locked"])
        .args(HOST_PACKAGES);
    for target in &targets {
        command.args(["--test", target]);
    }
    let (status, lines) = process::run_streaming(&mut command)?;
    Ok(with_exit_status(
        Counts::from_test_output(&lines),
        status.success(),
    ))
}

/// Names of the integration test targets cargo discovers in each crate: `tests/<name>.rs` and
/// `tests/<name>/main.rs`.
fn integration_test_targets(crates_dir: &Path) -> Result<Vec<String>, XtaskError> {
    let mut targets = Vec::new();
    let crates = std::fs::read_dir(crates_dir).map_err(XtaskError::io(crates_dir))?;
    for krate in crates.filter_map(Result::ok) {
        let tests_dir = krate.path().join("tests");
        let Ok(entries) = std::fs::read_dir(&tests_dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let stem = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
            let is_file_target = path.extension().is_some_and(|e| e == "rs");
            let is_dir_target = path.join("main.rs").is_file();
            if let Some(stem) = stem.filter(|_| is_file_target || is_dir_target) {
                targets.push(stem);
            }
        }
    }
    targets.sort();
    targets.dedup();
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_file_and_directory_test_targets() {
        let root = std::env::temp_dir().join(format!("xtask-scenario-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for path in [
            "a/tests/alpha.rs",
            "b/tests/beta/main.rs",
            "b/tests/notes.md",
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, "").expect("write");
        }
        std::fs::create_dir_all(root.join("c/src")).expect("mkdir");
        let targets = integration_test_targets(&root).expect("scan");
        std::fs::remove_dir_all(&root).expect("cleanup");
        assert_eq!(targets, ["alpha", "beta"]);
    }

    #[test]
    fn finds_the_sfu_signalling_tests_in_this_checkout() {
        let workspace = Workspace::locate().expect("workspace");
        let targets = integration_test_targets(&workspace.root.join("crates")).expect("scan");
        assert!(targets.iter().any(|t| t == "signalling"), "{targets:?}");
    }
}
