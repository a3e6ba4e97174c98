//! `cargo xtask bench sfu [--seconds N] [--profile]`: `confab server` and `livekit-server`
//! under the same load in the same run, in the private test network: forwarded packets per
//! CPU-second of the server process, memory per receiving participant, and packet loss. With
//! `--profile`, one more pass per room samples `confab server` with perf (not counted in the
//! table: sampling costs CPU) and writes flame graphs to `docs/bench/`.
//!
//! The load is LiveKit's Python SDK (`tests/bench/sfu_load.py`); the issue asks for
//! `lk load-test`, which cannot be installed on these machines (see docs/BENCHMARKS.md).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::profile::{self, Recording};
use super::report;
use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::flat_json;
use crate::livekit_server;
use crate::paths::Workspace;
use crate::process;
use crate::testnet::{Host, Testnet};

pub const DEFAULT_SECONDS: u32 = 20;
/// `--dev` credentials, the same for both servers.
pub(super) const API_KEY: &str = "devkey";
pub(super) const API_SECRET: &str = "secret";

#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    publishers: u32,
    subscribers: u32,
    video: bool,
}

/// Sized so that the load generator (libwebrtc encoding and decoding in Python) and the
/// server fit on a 2-core machine together.
const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "audio",
        publishers: 4,
        subscribers: 12,
        video: false,
    },
    Scenario {
        name: "video",
        publishers: 2,
        subscribers: 6,
        video: true,
    },
];

#[derive(Debug, Clone, Copy)]
pub(super) enum Server {
    Confab,
    LiveKit,
}

impl Server {
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Confab => "confab server",
            Self::LiveKit => "livekit-server v1.9.11",
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Measurement {
    packets: u64,
    lost: u64,
    cpu_seconds: f64,
    idle_rss_kib: u64,
    loaded_rss_kib: u64,
}

impl Measurement {
    fn packets_per_cpu_second(&self) -> f64 {
        self.packets as f64 / self.cpu_seconds.max(1e-9)
    }

    fn loss_percent(&self) -> f64 {
        100.0 * self.lost as f64 / (self.packets + self.lost).max(1) as f64
    }

    fn rss_per_receiver_kib(&self, scenario: Scenario) -> f64 {
        let receivers = f64::from(scenario.publishers + scenario.subscribers);
        self.loaded_rss_kib.saturating_sub(self.idle_rss_kib) as f64 / receivers
    }
}

pub fn run(workspace: &Workspace, seconds: u32, with_profile: bool) -> Result<(), XtaskError> {
    let release = app::build_binaries(workspace)?;
    let profiling_server = if with_profile {
        profile::ensure_tools(workspace)?;
        Some(profile::build_server(workspace)?)
    } else {
        None
    };
    let livekit = livekit_server::ensure(workspace)?;
    let testnet = Testnet::create(&["sfu", "load"])?;
    let (Some(sfu), Some(load)) = (testnet.host("sfu"), testnet.host("load")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let bench = Bench {
        workspace,
        sfu,
        load,
        seconds,
    };
    let ours = release.join(CLI_BINARY);
    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        let mut row = Row {
            scenario,
            ours: Vec::new(),
            theirs: Vec::new(),
        };
        // Alternating, so drift in the machine's load affects both servers alike.
        for _ in 0..ROUNDS {
            row.ours
                .push(bench.measure(Server::Confab, &ours, scenario, None)?);
            row.theirs
                .push(bench.measure(Server::LiveKit, &livekit, scenario, None)?);
        }
        rows.push(row);
    }
    let mut profiles = Vec::new();
    if let Some(binary) = &profiling_server {
        for scenario in SCENARIOS {
            profiles.push(bench.profile(binary, scenario)?);
        }
    }
    drop(testnet);
    let body = render(&rows, seconds);
    println!("{body}");
    let report_path = workspace.root.join("docs/BENCHMARKS.md");
    report::write_section(&report_path, "sfu", &body)?;
    if !profiles.is_empty() {
        let body = render_profiles(&profiles, seconds);
        println!("{body}");
        report::write_section(&report_path, "sfu-profile", &body)?;
    }
    Ok(())
}

/// Runs per server and room; the report shows the median run and the spread.
const ROUNDS: usize = 3;

/// One room's runs against both servers.
struct Row {
    scenario: Scenario,
    ours: Vec<Measurement>,
    theirs: Vec<Measurement>,
}

/// The run with the median packets per CPU-second.
fn median(runs: &[Measurement]) -> Measurement {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| {
        a.packets_per_cpu_second()
            .total_cmp(&b.packets_per_cpu_second())
    });
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Where `confab server` spends its CPU in one room: flame graph and hottest frames.
struct Profile {
    scenario: Scenario,
    svg: String,
    hotspots: Vec<profile::Hotspot>,
}

const HOTSPOTS_LISTED: usize = 15;

/// What every run shares: the checkout, the two test hosts and the window length.
struct Bench<'a> {
    workspace: &'a Workspace,
    sfu: &'a Host,
    load: &'a Host,
    seconds: u32,
}

impl Bench<'_> {
    /// One more run of `confab server` (the profiling build) under perf.
    fn profile(&self, binary: &Path, scenario: Scenario) -> Result<Profile, XtaskError> {
        let artifacts = self.workspace.artifacts_dir().join("bench");
        std::fs::create_dir_all(&artifacts).map_err(XtaskError::io(&artifacts))?;
        let data = artifacts.join(format!("sfu-{}.perf.data", scenario.name));
        self.measure(Server::Confab, binary, scenario, Some(&data))?;
        let svg = format!("docs/bench/sfu-{}-flame.svg", scenario.name);
        let title = format!(
            "confab server, {} room ({} pub x {} sub), {} s",
            scenario.name, scenario.publishers, scenario.subscribers, self.seconds
        );
        let hotspots = profile::flame_graph(
            self.workspace,
            &data,
            &self.workspace.root.join(&svg),
            &title,
            HOTSPOTS_LISTED,
        )?;
        Ok(Profile {
            scenario,
            svg,
            hotspots,
        })
    }

    fn measure(
        &self,
        server: Server,
        binary: &Path,
        scenario: Scenario,
        perf_data: Option<&Path>,
    ) -> Result<Measurement, XtaskError> {
        eprintln!(
            "== bench sfu: {} under the {} load",
            server.label(),
            scenario.name
        );
        let mut child = start_server(self.sfu, server, binary)?;
        let result = drive_load(self, &child, scenario, perf_data);
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        result
    }
}

pub(super) fn start_server(sfu: &Host, server: Server, binary: &Path) -> Result<Child, XtaskError> {
    let mut command = Command::new("ip");
    command.args(sfu.exec_args()).arg(binary);
    match server {
        Server::Confab => command.args(["server", "--dev"]),
        Server::LiveKit => command.arg("--dev"),
    };
    command
        .args(["--bind", &sfu.ip, "--node-ip", &sfu.ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| XtaskError::Spawn {
            program: server.label().into(),
            source,
        })
}

/// Runs the load; samples the server's memory when it is ready (idle) and at the end, and its
/// CPU time at the start and end of the measured window, as the load announces them.
fn drive_load(
    bench: &Bench,
    server: &Child,
    scenario: Scenario,
    perf_data: Option<&Path>,
) -> Result<Measurement, XtaskError> {
    let (workspace, sfu, load, seconds) = (bench.workspace, bench.sfu, bench.load, bench.seconds);
    // `ip netns exec` replaces itself with the server, so the child's pid is the server's.
    let pid = server.id();
    let python = workspace.python_venv().join("bin").join("python");
    let mut command = process::command(workspace, "ip");
    command
        .args(load.exec_args())
        .arg(python)
        .arg(workspace.root.join("tests/bench/sfu_load.py"))
        .args(["--url", &format!("ws://{}:7880", sfu.ip)])
        .args(["--api-key", API_KEY, "--api-secret", API_SECRET])
        .args(["--publishers", &scenario.publishers.to_string()])
        .args(["--subscribers", &scenario.subscribers.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if scenario.video {
        command.arg("--video");
    }
    let mut child = command.spawn().map_err(|source| XtaskError::Spawn {
        program: "sfu_load.py".into(),
        source,
    })?;
    let mut measurement = Measurement::default();
    let mut cpu_at_start = None;
    let mut summary = None;
    let mut recording = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.trim() {
                "SERVER_READY" => measurement.idle_rss_kib = rss_kib(pid).unwrap_or(0),
                "MEASURE_START" => {
                    cpu_at_start = cpu_seconds(pid);
                    if let Some(data) = perf_data {
                        recording = Some(Recording::start(pid, data)?);
                    }
                }
                "MEASURE_END" => {
                    if let Some(recording) = recording.take() {
                        recording.finish()?;
                    }
                    let cpu = cpu_seconds(pid)
                        .zip(cpu_at_start)
                        .map(|(end, start)| end - start);
                    measurement.cpu_seconds = cpu.unwrap_or(0.0);
                    measurement.loaded_rss_kib = rss_kib(pid).unwrap_or(0);
                }
                other if other.starts_with('{') => summary = Some(other.to_owned()),
                _ => {}
            }
        }
    }
    let status = child.wait().map_err(|source| XtaskError::Spawn {
        program: "sfu_load.py".into(),
        source,
    })?;
    let summary = summary.filter(|_| status.success()).ok_or_else(|| {
        XtaskError::Unexpected(format!(
            "the {} load did not finish ({status})",
            scenario.name
        ))
    })?;
    measurement.packets = flat_json::number_field(&summary, "packets_received").unwrap_or(0);
    measurement.lost = flat_json::number_field(&summary, "packets_lost").unwrap_or(0);
    Ok(measurement)
}

/// user + system CPU time of a process, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = process::output(Command::new("getconf").arg("CLK_TCK"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Some(ticks as f64 / per_second as f64)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn render(rows: &[Row], seconds: u32) -> String {
    let mut body = format!(
        "## SFU: confab server vs livekit-server\n\n{} · {} · `cargo xtask bench sfu --seconds {seconds}`\n\n\
         Load: LiveKit's Python SDK (`tests/bench/sfu_load.py`, libwebrtc) in its own network \
         namespace, publishers sending a tone (and 320×240 VP8 at 15 fps, no simulcast, in the video \
         room) to every other participant; the server in another namespace. Both servers get the \
         same load in the same run, alternating, {ROUNDS} runs each; the table shows each server's \
         median run by packets per CPU-second and the range over its runs. The load generator \
         shares the two cores. Packets are RTP packets received by all participants during the \
         {seconds} s window (WebRTC inbound stats); CPU is the server process's user+system time in \
         that window; memory is the growth of its RSS over idle, per receiving participant. \
         Latency is not measured (`lk load-test`, which reports it, cannot be installed here).\n\n\
         | room | server | packets | server CPU s | packets / CPU-s | range over runs | loss | RSS per receiver |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        report::today(),
        report::machine()
    );
    for row in rows {
        let scenario = row.scenario;
        let room = format!(
            "{} ({} pub × {} sub)",
            scenario.name, scenario.publishers, scenario.subscribers
        );
        for (server, runs) in [(Server::Confab, &row.ours), (Server::LiveKit, &row.theirs)] {
            let m = median(runs);
            let rates = runs.iter().map(Measurement::packets_per_cpu_second);
            let low = rates.clone().fold(f64::INFINITY, f64::min);
            let high = rates.fold(0.0, f64::max);
            body.push_str(&format!(
                "| {room} | {} | {} | {:.2} | {:.0} | {low:.0}–{high:.0} | {:.2} % | {:.0} KiB |\n",
                server.label(),
                m.packets,
                m.cpu_seconds,
                m.packets_per_cpu_second(),
                m.loss_percent(),
                m.rss_per_receiver_kib(scenario),
            ));
        }
    }
    body.push_str("\nRatios of the medians (confab / livekit-server); the goal is ≥ 1.5× packets per CPU-second at no worse loss and ≤ 0.5× memory per subscriber:\n\n");
    for row in rows {
        let scenario = row.scenario;
        let (ours, theirs) = (median(&row.ours), median(&row.theirs));
        let memory =
            ours.rss_per_receiver_kib(scenario) / theirs.rss_per_receiver_kib(scenario).max(1.0);
        body.push_str(&format!(
            "- {}: {:.2}× packets per CPU-second, {:.2}× memory per receiver, loss {:.2} % vs {:.2} %\n",
            scenario.name,
            ours.packets_per_cpu_second() / theirs.packets_per_cpu_second().max(1e-9),
            memory,
            ours.loss_percent(),
            theirs.loss_percent(),
        ));
    }
    body
}

fn render_profiles(profiles: &[Profile], seconds: u32) -> String {
    let mut body = format!(
        "## SFU profile: where confab server spends its CPU\n\n{} · {} · `cargo xtask bench sfu --seconds {seconds} --profile`\n\n\
         `perf record -F 499 --call-graph dwarf` on `confab server` (built with the `profiling` \
         profile: release code plus line tables) during an extra pass of each room above, after \
         the measured ones. Self time is the share of samples in which the frame was on top of \
         the stack.\n",
        report::today(),
        report::machine()
    );
    for profile in profiles {
        let scenario = profile.scenario;
        body.push_str(&format!(
            "\n### {} room ({} pub × {} sub) — flame graph: [`{}`]({})\n\n| self | frame |\n| --- | --- |\n",
            scenario.name,
            scenario.publishers,
            scenario.subscribers,
            profile.svg,
            profile.svg.trim_start_matches("docs/"),
        ));
        for hotspot in &profile.hotspots {
            body.push_str(&format!(
                "| {:.1} % | `{}` |\n",
                hotspot.percent,
                hotspot.frame.replace('|', "\\|")
            ));
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_cpu_time_and_memory() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some_and(|s| s >= 0.0));
        assert!(rss_kib(me).is_some_and(|kib| kib > 0));
    }
}
