//! `cargo xtask bench ui [--seconds N] [--rounds N]`: the desktop app's CPU while it shows a
//! meeting of nine 640×360 cameras and a 1920×1080 screen share, against headless Chromium
//! showing the same meeting through LiveKit's browser SDK, in the same run. The driver is the
//! release test `tests/ui_bench.rs`, run like the e2e tier: in the test network's `apps` host
//! (the server, the publishers and the app), under Xvfb, the browser in the `browser` host.

use std::collections::BTreeMap;

use super::report;
use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::test::e2e::{compile_desktop_test, desktop_test};
use crate::testnet::Testnet;

pub const DEFAULT_SECONDS: u32 = 30;
pub const DEFAULT_ROUNDS: u32 = 2;

/// One watcher's measured window, from a `BENCH <watcher> key=value…` line.
#[derive(Debug, Clone, PartialEq)]
struct Round {
    cpu_per_minute: f64,
    fps_mean: f64,
    fps_min: f64,
    notes: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Rounds {
    app: Vec<Round>,
    chromium: Vec<Round>,
}

impl Rounds {
    fn read(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if words.next() != Some("BENCH") {
            return;
        }
        let list = match words.next() {
            Some("app") => &mut self.app,
            Some("chromium") => &mut self.chromium,
            _ => return,
        };
        let notes: BTreeMap<String, String> = words
            .filter_map(|word| word.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        let number = |key: &str| notes.get(key).and_then(|v| v.parse::<f64>().ok());
        let (Some(cpu), Some(window), Some(fps_mean), Some(fps_min)) = (
            number("cpu-seconds"),
            number("window-seconds"),
            number("fps-mean"),
            number("fps-min"),
        ) else {
            return;
        };
        list.push(Round {
            cpu_per_minute: cpu / window.max(1e-9) * 60.0,
            fps_mean,
            fps_min,
            notes,
        });
    }
}

pub fn run(workspace: &Workspace, seconds: u32, rounds: u32) -> Result<(), XtaskError> {
    // The page is half of what is measured: build it from this checkout, not reuse a stale one.
    let release = app::build(workspace)?;
    compile_desktop_test(workspace, "ui_bench")?;
    let testnet = Testnet::create(&["apps", "browser"])?;
    let (Some(apps), Some(browser)) = (testnet.host("apps"), testnet.host("browser")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let (status, lines) = process::run_streaming(
        desktop_test(workspace, &release, apps, browser, "ui_bench")
            .args(["--", "--nocapture"])
            .env("CONFAB_CLI_BINARY", release.join(CLI_BINARY))
            .env("CONFAB_BENCH_SECONDS", seconds.to_string())
            .env("CONFAB_BENCH_ROUNDS", rounds.to_string()),
    )?;
    drop(testnet);
    let mut measured = Rounds::default();
    for line in &lines {
        measured.read(line);
    }
    if !status.success() || measured.app.is_empty() || measured.chromium.is_empty() {
        return Err(XtaskError::Unexpected(format!(
            "the UI benchmark did not finish ({status})"
        )));
    }
    let body = render(&measured, seconds, rounds);
    println!("{body}");
    report::write_section(&workspace.root.join("docs/BENCHMARKS.md"), "ui", &body)
}

/// The round with the median CPU (the lower of two).
fn median(rounds: &[Round]) -> Option<&Round> {
    let mut sorted: Vec<&Round> = rounds.iter().collect();
    sorted.sort_by(|a, b| a.cpu_per_minute.total_cmp(&b.cpu_per_minute));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

fn render(measured: &Rounds, seconds: u32, rounds: u32) -> String {
    let (Some(app), Some(chromium)) = (median(&measured.app), median(&measured.chromium)) else {
        return String::new();
    };
    let ratio = app.cpu_per_minute / chromium.cpu_per_minute.max(1e-9);
    let note = |key: &str| app.notes.get(key).map_or("?", String::as_str);
    let samples = |rounds: &[Round]| {
        rounds
            .iter()
            .map(|r| format!("{:.1}", r.cpu_per_minute))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "## UI: the desktop app vs headless Chromium showing the same meeting\n\n\
         {} · {} · `cargo xtask bench ui --seconds {seconds} --rounds {rounds}`\n\n\
         One meeting on `confab server`: nine cameras at 640×360 (one layer) and the host's \
         1920×1080 screen share, 30 fps each, VP8, from `confab join --load-video` (the test \
         pattern encoded once and replayed: the publishers cost next to nothing). The release \
         app joins it with its invitation (camera and microphone off) in the speaker layout — \
         the share on the stage, the cameras in the filmstrip — in a {} window under Xvfb \
         (WebKitGTK, no GPU: its `{}` renderer is software). Then headless Chromium joins \
         with LiveKit's browser SDK (`livekit-client`, only watching, `adaptiveStream` off) in \
         a page of the same size, each video drawn where the app drew it. Each is measured \
         alone, after every video paints and a 5 s warm-up, over {seconds} s: user + system \
         CPU of its whole process tree (the app with its WebKit processes; every Chromium \
         process) as CPU-seconds per minute (60 = one core busy), and the frames painted per \
         video (the app's canvas counters; Chromium's `requestVideoFrameCallback`). The \
         server and the publishers run beside them on the same 2 cores. The round with the \
         median CPU of {rounds} for each.\n\n\
         | watcher | CPU | frames per video per second (mean / lowest) |\n\
         | --- | --- | --- |\n\
         | Confab app | {:.1} CPU-s/min | {:.1} / {:.1} |\n\
         | headless Chromium (`livekit-client`) | {:.1} CPU-s/min | {:.1} / {:.1} |\n\n\
         **The app uses {ratio:.2}× Chromium's CPU** (goal ≤ 0.5×: {}).\n\n\
         What the app decoded, per tile: {}. Where the app's CPU went in that round (seconds \
         per process): {}. Chromium decoded {} frames per video per second. CPU-s/min per \
         round: app [{}]; Chromium [{}].\n",
        report::today(),
        report::machine(),
        note("viewport"),
        note("renderer"),
        app.cpu_per_minute,
        app.fps_mean,
        app.fps_min,
        chromium.cpu_per_minute,
        chromium.fps_mean,
        chromium.fps_min,
        if ratio <= 0.5 { "met" } else { "**not met**" },
        note("decoded-sizes"),
        note("processes"),
        chromium
            .notes
            .get("decoded-fps-mean")
            .map_or("?", String::as_str),
        samples(&measured.app),
        samples(&measured.chromium),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_read_from_the_drivers_lines() {
        let mut rounds = Rounds::default();
        for line in [
            "BENCH app round=1 cpu-seconds=15.00 window-seconds=30.0 videos=10 fps-mean=29.9 \
             fps-min=29.5 renderer=webgl decoded-sizes=640x360,1920x1080 viewport=1280x752",
            "BENCH chromium round=1 cpu-seconds=30.00 window-seconds=30.0 videos=10 \
             fps-mean=30.0 fps-min=29.8",
            "BENCH app round=2 cpu-seconds=12.00 window-seconds=30.0 videos=10 fps-mean=30 fps-min=30",
            "BENCH elsewhere cpu-seconds=1",
            "noise",
        ] {
            rounds.read(line);
        }
        assert_eq!(rounds.app.len(), 2);
        assert_eq!(rounds.chromium.len(), 1);
        assert!((rounds.app[0].cpu_per_minute - 30.0).abs() < 1e-9);
        assert_eq!(rounds.app[0].notes["renderer"], "webgl");
        // The median of two is the lower.
        assert_eq!(median(&rounds.app).map(|r| r.cpu_per_minute), Some(24.0));
        let report = render(&rounds, 30, 2);
        assert!(report.contains("uses 0.40× Chromium's CPU"), "{report}");
        assert!(report.contains("(goal ≤ 0.5×: met)"), "{report}");
        assert!(
            report.contains("| Confab app | 24.0 CPU-s/min | 30.0 / 30.0 |"),
            "{report}"
        );
    }
}
