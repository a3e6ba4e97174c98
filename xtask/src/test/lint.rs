//! Formatting and clippy (`-D warnings`) for the host crates, for its own target the UI, and
//! for Windows and macOS the screen-capture crate (whose code for those OSes is compiled
//! nowhere else here); and a syntax check of the Python and JavaScript test peers, so a broken
//! peer fails here, named, instead of as a collection error in the middle of a tier.

use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::rust_tools::CROSS_CHECK_TARGETS;
use crate::summary::Counts;
use std::process::Command;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let mut counts = Counts::default();
    let mut checks: Vec<(String, Vec<&str>)> = vec![
        ("rustfmt".into(), vec!["fmt", "--all", "--check"]),
        (
            "clippy (host)".into(),
            [
                &["clippy", "--release", "--locked", "--all-targets"][..],
                // `--all-targets` leaves out tests marked `test = false`: the UI end-to-end
                // test and the UI benchmark, run only through `cargo xtask`.
                &["--test", "ui_e2e", "--test", "ui_bench"],
                HOST_PACKAGES,
                &["--", "-D", "warnings"],
            ]
            .concat(),
        ),
        (
            "clippy (ui, wasm32)".into(),
            vec![
                "clippy",
                "--locked",
                "--all-targets",
                "-p",
                "confab-ui",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    for target in CROSS_CHECK_TARGETS {
        checks.push((
            format!("clippy (confab-screen, {target})"),
            vec![
                "clippy",
                "--release",
                "--locked",
                "--all-targets",
                "-p",
                "confab-screen",
                "--target",
                target,
                "--",
                "-D",
                "warnings",
            ],
        ));
    }
    let mut commands: Vec<(String, Command)> = checks
        .into_iter()
        .map(|(name, args)| {
            let mut command = process::command(workspace, "cargo");
            command.args(args);
            (name, command)
        })
        .collect();
    commands.extend(peer_syntax_checks(workspace));
    for (name, mut command) in commands {
        let ok = process::status(&mut command)?.success();
        eprintln!("lint: {name}: {}", if ok { "ok" } else { "FAILED" });
        counts.add(Counts::check(ok));
    }
    Ok(counts)
}

/// `python3 -m compileall` over the Python peers and `node --check` on each JavaScript one.
fn peer_syntax_checks(workspace: &Workspace) -> Vec<(String, Command)> {
    let conformance = workspace.conformance_dir();
    let mut python = process::command(workspace, "python3");
    python
        .args(["-m", "compileall", "-q"])
        .arg(conformance.join("python"));
    let mut checks = vec![("python peers (syntax)".to_string(), python)];
    let scripts = [
        conformance.join("browser").join("peer.mjs"),
        workspace
            .root
            .join("tests")
            .join("harness")
            .join("stamp.js"),
    ];
    for script in scripts {
        let mut node = process::command(workspace, "node");
        node.arg("--check").arg(&script);
        let name = format!(
            "{} (syntax)",
            script
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        checks.push((name, node));
    }
    checks
}
