//! `cargo xtask bench sfu --profile`: where the SFU spends its CPU under load. `perf record`
//! samples the running server (built with the `profiling` profile: release code plus line
//! tables, so perf can unwind with DWARF), inferno turns the samples into a flame graph, and
//! the frames with the most self time go into the report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::app::CLI_BINARY;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::{apt, rust_tools};

const INFERNO_VERSION: &str = "0.12.8";
/// Samples per second; low enough that DWARF unwinding does not swamp a 2-core machine.
const SAMPLE_HZ: &str = "499";
/// Bytes of stack copied per sample for DWARF unwinding.
const STACK_BYTES: &str = "32768";

/// perf (Debian's `linux-perf`) and inferno, installed when missing.
pub fn ensure_tools(workspace: &Workspace) -> Result<(), XtaskError> {
    if !process::exists(workspace, "perf") {
        apt::ensure_packages(workspace, &["linux-perf"])?;
    }
    rust_tools::ensure_locked_tool(workspace, "inferno", INFERNO_VERSION)
}

/// Builds `confab` with the `profiling` profile and returns its path.
pub fn build_server(workspace: &Workspace) -> Result<PathBuf, XtaskError> {
    eprintln!("== building confab (profiling profile)");
    process::run(process::command(workspace, "cargo").args([
        "build",
        "--profile",
        "profiling",
        "--locked",
        "-p",
        "confab-cli",
        "--bin",
        CLI_BINARY,
    ]))?;
    Ok(workspace.target_dir.join("profiling").join(CLI_BINARY))
}

/// A `perf record` attached to one process until [`Recording::finish`].
pub struct Recording {
    perf: Child,
    data: PathBuf,
}

impl Recording {
    pub fn start(pid: u32, data: &Path) -> Result<Self, XtaskError> {
        let perf = Command::new("perf")
            .args(["record", "-F", SAMPLE_HZ, "--call-graph"])
            .arg(format!("dwarf,{STACK_BYTES}"))
            .args(["-p", &pid.to_string(), "-o"])
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| XtaskError::Spawn {
                program: "perf record".into(),
                source,
            })?;
        Ok(Self {
            perf,
            data: data.to_owned(),
        })
    }

    /// Stops sampling (SIGINT lets perf write its file completely) and returns the data file.
    pub fn finish(mut self) -> Result<PathBuf, XtaskError> {
        let _ = Command::new("kill")
            .args(["-INT", &self.perf.id().to_string()])
            .status();
        self.perf.wait().map_err(|source| XtaskError::Spawn {
            program: "perf record".into(),
            source,
        })?;
        Ok(self.data)
    }
}

/// One frame's share of all samples taken while it was on top of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspot {
    pub frame: String,
    pub percent: f64,
}

/// Folds the samples in `data`, writes the flame graph to `svg` and returns the `top` frames by
/// self time.
pub fn flame_graph(
    workspace: &Workspace,
    data: &Path,
    svg: &Path,
    title: &str,
    top: usize,
) -> Result<Vec<Hotspot>, XtaskError> {
    let folded = data.with_extension("folded");
    let script = process::output(
        Command::new("perf")
            .args(["script", "--no-inline", "-i"])
            .arg(data),
    )
    .ok_or_else(|| XtaskError::Unexpected(format!("perf script -i {} failed", data.display())))?;
    let collapsed = pipe(workspace, "inferno-collapse-perf", &[], &script)?;
    std::fs::write(&folded, &collapsed).map_err(XtaskError::io(&folded))?;
    let graph = pipe(
        workspace,
        "inferno-flamegraph",
        &["--title", title, "--width", "1400"],
        &collapsed,
    )?;
    if let Some(dir) = svg.parent() {
        std::fs::create_dir_all(dir).map_err(XtaskError::io(dir))?;
    }
    std::fs::write(svg, graph).map_err(XtaskError::io(svg))?;
    Ok(hotspots(&collapsed, top))
}

/// Runs `program args` with `input` on stdin and returns its stdout.
fn pipe(
    workspace: &Workspace,
    program: &str,
    args: &[&str],
    input: &str,
) -> Result<String, XtaskError> {
    use std::io::Write;
    let spawn_error = |source| XtaskError::Spawn {
        program: program.into(),
        source,
    };
    let mut child = process::command(workspace, program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| XtaskError::Unexpected(format!("{program}: no stdin")))?;
    let written = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output();
        (writer.join(), output)
    });
    match written {
        (Ok(Ok(())), Ok(output)) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        (_, Ok(output)) => Err(XtaskError::Unexpected(format!(
            "{program} failed ({})",
            output.status
        ))),
        (_, Err(source)) => Err(spawn_error(source)),
    }
}

/// The `top` leaf frames of folded stacks (`a;b;c 42` lines) by their share of all samples.
fn hotspots(folded: &str, top: usize) -> Vec<Hotspot> {
    let mut by_frame: HashMap<&str, u64> = HashMap::new();
    let mut total = 0u64;
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else {
            continue;
        };
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        *by_frame.entry(leaf).or_default() += count;
        total += count;
    }
    let mut frames: Vec<(&str, u64)> = by_frame.into_iter().collect();
    frames.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    frames
        .into_iter()
        .take(top)
        .map(|(frame, count)| Hotspot {
            frame: frame.to_owned(),
            percent: 100.0 * count as f64 / total.max(1) as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotspots_rank_leaf_frames_by_their_share_of_samples() {
        let folded = "confab;main;poll;aes_gcm 30\nconfab;main;poll 10\nconfab;main;send;aes_gcm 20\nconfab;main;sendto 40\nnot a stack line\n";
        let top = hotspots(folded, 2);
        assert_eq!(
            top,
            vec![
                Hotspot {
                    frame: "aes_gcm".into(),
                    percent: 50.0
                },
                Hotspot {
                    frame: "sendto".into(),
                    percent: 40.0
                },
            ]
        );
    }
}
