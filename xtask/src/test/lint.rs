//! Formatting and clippy (`-D warnings`) for the host crates, for its own target the UI, and
//! for Windows and macOS the screen-capture crate (whose code for those OSes is compiled
//! nowhere else here).

use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::rust_tools::CROSS_CHECK_TARGETS;
use crate::summary::Counts;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let mut counts = Counts::default();
    let mut checks: Vec<(String, Vec<&str>)> = vec![
        ("rustfmt".into(), vec!["fmt", "--all", "--check"]),
        (
            "clippy (host)".into(),
            [
                &["clippy", "--release", "--locked", "--all-targets"][..],
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
    for (name, args) in checks {
        let ok = process::status(process::command(workspace, "cargo").args(&args))?.success();
        eprintln!("lint: {name}: {}", if ok { "ok" } else { "FAILED" });
        counts.add(Counts::check(ok));
    }
    Ok(counts)
}
