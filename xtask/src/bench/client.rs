//! `cargo xtask bench client [--rounds N]`: Confab's client engine (`confab join`) beside
//! LiveKit's Python SDK doing the same against the same `livekit-server`, in the same run, in
//! the private test network: join time (connect → first decoded video frame), file throughput
//! through the server and the CPU of publishing 720p30 simulcast. The driver is
//! `tests/bench/client_bench.py`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::report;
use super::sfu::{API_KEY, API_SECRET, Server, start_server};
use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::livekit_server;
use crate::paths::Workspace;
use crate::process;
use crate::testnet::Testnet;

pub const DEFAULT_ROUNDS: u32 = 20;
const FILE_MB: u32 = 20;
const FILE_ROUNDS: u32 = 3;

/// Every sample of one run: milliseconds, and CPU-seconds per minute for publishing.
#[derive(Debug, Default)]
struct Samples {
    join_confab: Vec<f64>,
    join_python: Vec<f64>,
    file_confab: Vec<f64>,
    file_python: Vec<f64>,
    publish_cpu_confab: Vec<f64>,
    publish_cpu_python: Vec<f64>,
    publish_cpu_chromium: Vec<f64>,
    file_bytes: u64,
}

impl Samples {
    /// One line of the driver's output.
    fn read(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["SAMPLE", kind, client, ms] => {
                let Ok(ms) = ms.parse::<f64>() else { return };
                let list = match (*kind, *client) {
                    ("join", "confab") => &mut self.join_confab,
                    ("join", "python") => &mut self.join_python,
                    ("file", "confab") => &mut self.file_confab,
                    ("file", "python") => &mut self.file_python,
                    ("publish-cpu", "confab") => &mut self.publish_cpu_confab,
                    ("publish-cpu", "python") => &mut self.publish_cpu_python,
                    ("publish-cpu", "chromium") => &mut self.publish_cpu_chromium,
                    _ => return,
                };
                list.push(ms);
            }
            ["FILE_BYTES", bytes] => self.file_bytes = bytes.parse().unwrap_or(0),
            _ => {}
        }
    }
}

pub fn run(workspace: &Workspace, rounds: u32) -> Result<(), XtaskError> {
    let release = app::build_binaries(workspace)?;
    let livekit = livekit_server::ensure(workspace)?;
    let testnet = Testnet::create(&["sfu", "clients"])?;
    let (Some(sfu), Some(clients)) = (testnet.host("sfu"), testnet.host("clients")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let mut server = start_server(sfu, Server::LiveKit, &livekit)?;
    let python = workspace.python_venv().join("bin").join("python");
    let mut command = process::command(workspace, "ip");
    command
        .args(clients.exec_args())
        .arg(python)
        .arg(workspace.root.join("tests/bench/client_bench.py"))
        .args(["--url", &format!("ws://{}:7880", sfu.ip)])
        .args(["--api-key", API_KEY, "--api-secret", API_SECRET])
        .arg("--confab")
        .arg(release.join(CLI_BINARY))
        .args(["--rounds", &rounds.to_string()])
        .args(["--file-mb", &FILE_MB.to_string()])
        .args(["--file-rounds", &FILE_ROUNDS.to_string()])
        .stdout(Stdio::piped());
    let result = drive(&mut command);
    let _ = std::process::Command::new("kill")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    drop(testnet);
    let samples = result?;
    let body = render(&samples, rounds);
    println!("{body}");
    report::write_section(&workspace.root.join("docs/BENCHMARKS.md"), "client", &body)
}

fn drive(command: &mut std::process::Command) -> Result<Samples, XtaskError> {
    let mut child = command.spawn().map_err(|source| XtaskError::Spawn {
        program: "client_bench.py".into(),
        source,
    })?;
    let mut samples = Samples::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("{line}");
            samples.read(&line);
        }
    }
    let status = child.wait().map_err(|source| XtaskError::Spawn {
        program: "client_bench.py".into(),
        source,
    })?;
    let incomplete = [
        &samples.join_confab,
        &samples.file_confab,
        &samples.publish_cpu_confab,
        &samples.publish_cpu_python,
        &samples.publish_cpu_chromium,
    ]
    .iter()
    .any(|list| list.is_empty());
    if !status.success() || incomplete {
        return Err(XtaskError::Unexpected(format!(
            "the client benchmark did not finish ({status})"
        )));
    }
    Ok(samples)
}

/// The `p`-th percentile (nearest rank) of `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Megabytes per second for each transfer of `bytes` taking `ms`; the median.
fn median_throughput(bytes: u64, ms: &[f64]) -> f64 {
    let rates: Vec<f64> = ms
        .iter()
        .map(|ms| bytes as f64 / 1e6 / (ms / 1e3).max(1e-9))
        .collect();
    percentile(&rates, 50.0)
}

fn render(samples: &Samples, rounds: u32) -> String {
    let ours_p50 = percentile(&samples.join_confab, 50.0);
    let theirs_p50 = percentile(&samples.join_python, 50.0);
    let ours_rate = median_throughput(samples.file_bytes, &samples.file_confab);
    let theirs_rate = median_throughput(samples.file_bytes, &samples.file_python);
    let ours_cpu = percentile(&samples.publish_cpu_confab, 50.0);
    let theirs_cpu = percentile(&samples.publish_cpu_python, 50.0);
    let browser_cpu = percentile(&samples.publish_cpu_chromium, 50.0);
    format!(
        "## Client: confab join vs LiveKit's Python SDK\n\n{} · {} · `cargo xtask bench client --rounds {rounds}`\n\n\
         Both clients against the same `{}` (`--dev`) in one network namespace, the clients in \
         another, in the same run, alternating. Join time: from the start of connecting to the \
         first frame of a video track already published (640×360 VP8 simulcast at 30 fps by a \
         Python participant), joins 1.5 s apart (livekit-server asks a publisher for at most one \
         keyframe per second and track, and a new subscriber waits for one: back-to-back joins \
         measured that throttle, about 1.1 s for both clients); the first *decoded* frame for both \
         (the Python SDK's `VideoStream`, Confab's VP8 decoder). Each Confab join is a new \
         `confab join` process, so its figure includes everything a process does the first time \
         (aws-lc seeds its random generator from the kernel alone: its CPU jitter entropy \
         source, 55–62 ms per process, is not built); the Python SDK joins from one long-lived \
         process. Both join on one peer connection (`/rtc/v1`, the client offering). File: {} MB over byte streams, \
         sender and receiver of the same client, timed at the receiver from the stream header to \
         the last byte (Python) or to the file saved with its SHA-256 checked (Confab); {} \
         transfers each. Publishing CPU: one process publishes 1280×720 at 30 fps in three VP8 \
         simulcast layers of moving content (Confab: `confab join --test-media`, its stamped \
         test pattern plus a tone; Python: a gradient with a moving bar prepared as I420 frames \
         beforehand; Chromium: LiveKit's browser SDK `livekit-client` publishing its fake \
         camera at 1280×720 in three simulcast layers and its fake microphone, headless, the \
         whole browser process tree counted) while a Python participant subscribes; the \
         publisher's user + system CPU over 30 s after a 5 s warm-up, as CPU-seconds per minute \
         (60 = one core busy), median of {} rounds each.\n\n\
         | measure | confab join | Python SDK | ratio (confab / Python) | goal |\n\
         | --- | --- | --- | --- | --- |\n\
         | join p50 | {ours_p50:.0} ms | {theirs_p50:.0} ms | {:.2}× | ≤ 300 ms and ≤ 0.5× |\n\
         | join p95 | {:.0} ms | {:.0} ms | {:.2}× | |\n\
         | file throughput (median) | {ours_rate:.1} MB/s | {theirs_rate:.1} MB/s | {:.2}× | ≥ 3× |\n\
         | publishing 720p30 simulcast (median) | {ours_cpu:.1} CPU-s/min | {theirs_cpu:.1} CPU-s/min | {:.2}× | |\n\n\
         Publishing beside headless Chromium (`livekit-client`) in the same run: Chromium \
         {browser_cpu:.1} CPU-s/min, Confab {:.2}× of it (goal ≤ 0.5×: {}).\n\n\
         Goals: join p50 ≤ 300 ms {}; join p50 ≤ 0.5× the Python SDK's {}; file throughput ≥ 3× \
         {}. (With 2 rounds, the \"median\" is the lower sample.)\n\n\
         Samples ({} join rounds): confab {:?} ms; Python {:?} ms. Publishing CPU-s/min: confab \
         {:?}; Python {:?}; Chromium {:?}.\n",
        report::today(),
        report::machine(),
        Server::LiveKit.label(),
        samples.file_bytes / 1_000_000,
        FILE_ROUNDS,
        samples.publish_cpu_confab.len(),
        ours_p50 / theirs_p50.max(1e-9),
        percentile(&samples.join_confab, 95.0),
        percentile(&samples.join_python, 95.0),
        percentile(&samples.join_confab, 95.0) / percentile(&samples.join_python, 95.0).max(1e-9),
        ours_rate / theirs_rate.max(1e-9),
        ours_cpu / theirs_cpu.max(1e-9),
        ours_cpu / browser_cpu.max(1e-9),
        verdict(ours_cpu <= 0.5 * browser_cpu),
        verdict(ours_p50 <= 300.0),
        verdict(ours_p50 <= 0.5 * theirs_p50),
        verdict(ours_rate >= 3.0 * theirs_rate),
        samples.join_confab.len(),
        rounded(&samples.join_confab),
        rounded(&samples.join_python),
        rounded(&samples.publish_cpu_confab),
        rounded(&samples.publish_cpu_python),
        rounded(&samples.publish_cpu_chromium),
    )
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn rounded(values: &[f64]) -> Vec<i64> {
    values.iter().map(|v| v.round() as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_from_the_drivers_lines() {
        let mut samples = Samples::default();
        for line in [
            "SAMPLE join confab 120.5",
            "SAMPLE join python 300",
            "FILE_BYTES 2000000",
            "SAMPLE file confab 1000",
            "SAMPLE publish-cpu confab 12.5",
            "noise",
        ] {
            samples.read(line);
        }
        assert_eq!(samples.join_confab, [120.5]);
        assert_eq!(samples.join_python, [300.0]);
        assert_eq!(samples.file_bytes, 2_000_000);
        assert_eq!(samples.publish_cpu_confab, [12.5]);
        assert!((median_throughput(samples.file_bytes, &samples.file_confab) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 10.0);
        assert_eq!(percentile(&values, 95.0), 19.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
