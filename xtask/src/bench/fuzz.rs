//! `cargo xtask bench fuzz [--seconds N]`: runs every cargo-fuzz target in `fuzz/` for a bounded
//! time (nightly toolchain, cargo-fuzz installed on demand) and records runs, coverage and any
//! crash in `docs/BENCHMARKS.md`. A crash fails the command and leaves its input in
//! `fuzz/artifacts/<target>/`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::report;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::rust_tools;

const TARGETS: &[&str] = &["signal_request", "twirp_request", "data_packet"];
const CARGO_FUZZ_VERSION: &str = "0.13.1";
pub const DEFAULT_SECONDS: u32 = 60;

#[derive(Debug)]
struct Outcome {
    target: &'static str,
    runs: String,
    coverage: String,
    crashed: bool,
}

pub fn run(workspace: &Workspace, seconds: u32) -> Result<(), XtaskError> {
    ensure_tools(workspace)?;
    let mut outcomes = Vec::new();
    for target in TARGETS {
        outcomes.push(fuzz(workspace, target, seconds)?);
    }
    let command = format!("cargo xtask bench fuzz --seconds {seconds}");
    let mut body = format!(
        "## Fuzzing\n\n{} · {} · `{command}`\n\n| target | runs | coverage (edges) | result |\n| --- | --- | --- | --- |\n",
        report::today(),
        report::machine()
    );
    for outcome in &outcomes {
        body.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            outcome.target,
            outcome.runs,
            outcome.coverage,
            if outcome.crashed {
                "**crash** (input in `fuzz/artifacts/`)"
            } else {
                "no crash"
            }
        ));
    }
    report::write_section(&workspace.root.join("docs/BENCHMARKS.md"), "fuzz", &body)?;
    match outcomes.iter().find(|o| o.crashed) {
        Some(crash) => Err(XtaskError::Unexpected(format!(
            "fuzz target {} crashed; see fuzz/artifacts/{}/",
            crash.target, crash.target
        ))),
        None => Ok(()),
    }
}

fn ensure_tools(workspace: &Workspace) -> Result<(), XtaskError> {
    let has_nightly =
        process::output(process::command(workspace, "rustup").args(["toolchain", "list"]))
            .is_some_and(|list| list.lines().any(|l| l.starts_with("nightly")));
    if !has_nightly {
        process::run(process::command(workspace, "rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    rust_tools::ensure_locked_tool(workspace, "cargo-fuzz", CARGO_FUZZ_VERSION)
}

/// Runs one target; libFuzzer reports on stderr, which is echoed and read for the summary.
fn fuzz(workspace: &Workspace, target: &'static str, seconds: u32) -> Result<Outcome, XtaskError> {
    let mut command = process::command(workspace, "cargo");
    command
        .current_dir(workspace.root.join("fuzz"))
        .args(["+nightly", "fuzz", "run", "-O", target, "--"])
        .arg(format!("-max_total_time={seconds}"))
        // Its own target dir: sanitizer flags would rebuild the workspace's from scratch.
        .env(
            "CARGO_TARGET_DIR",
            workspace.cache_dir().join("fuzz-target"),
        )
        .stderr(Stdio::piped());
    eprintln!("$ cargo +nightly fuzz run -O {target} -- -max_total_time={seconds}");
    let mut child = command.spawn().map_err(|source| XtaskError::Spawn {
        program: "cargo fuzz".into(),
        source,
    })?;
    let mut summary = None;
    let mut crashed = false;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            summary = parse_done(&line).or(summary);
            if line.contains("ERROR: libFuzzer") || line.contains("panicked at") {
                crashed = true;
            }
        }
    }
    let status = child.wait().map_err(|source| XtaskError::Spawn {
        program: "cargo fuzz".into(),
        source,
    })?;
    let (runs, coverage) = summary.unwrap_or_else(|| ("?".into(), "?".into()));
    Ok(Outcome {
        target,
        runs,
        coverage,
        crashed: crashed || !status.success(),
    })
}

/// Runs and edge coverage from libFuzzer's final status line
/// (`#212857<TAB>DONE   cov: 7185 ft: 9066 …`).
fn parse_done(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    let runs = words.next()?.strip_prefix('#')?;
    if words.next()? != "DONE" {
        return None;
    }
    let coverage = words.skip_while(|word| *word != "cov:").nth(1)?;
    Some((runs.to_owned(), coverage.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzers_final_status_line() {
        let line =
            "#212857\tDONE   cov: 7185 ft: 9066 corp: 1259/21Kb lim: 98 exec/s: 10136 rss: 483Mb";
        assert_eq!(parse_done(line), Some(("212857".into(), "7185".into())));
        assert_eq!(parse_done("#4096\tpulse  cov: 10 ft: 11"), None);
        assert_eq!(parse_done("Done 212857 runs in 21 second(s)"), None);
    }
}
