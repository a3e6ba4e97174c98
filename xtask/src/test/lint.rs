//! Formatting and clippy (`-D warnings`) for the host crates and, for its own target, the UI.

use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let mut counts = Counts::default();
    let checks: [(&str, Vec<&str>); 3] = [
        ("rustfmt", vec!["fmt", "--all", "--check"]),
        (
            "clippy (host)",
            [
                &["clippy", "--release", "--locked", "--all-targets"][..],
                HOST_PACKAGES,
                &["--", "-D", "warnings"],
            ]
            .concat(),
        ),
        (
            "clippy (ui, wasm32)",
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
    for (name, args) in checks {
        let ok = process::status(process::command(workspace, "cargo").args(&args))?.success();
        eprintln!("lint: {name}: {}", if ok { "ok" } else { "FAILED" });
        counts.add(Counts::check(ok));
    }
    Ok(counts)
}
