//! `cargo xtask bench media`, latency: glass-to-glass (the stamped test pattern from capture
//! to decoded) and mouth-to-ear (tone bursts from a virtual microphone to a virtual
//! speaker, recorded sample-aligned) between two `confab join` processes, through `confab
//! server` and through `livekit-server` in the same run, in the private test network. The
//! driver is `tests/bench/media_latency.py`.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::sfu::{API_KEY, API_SECRET, Server, start_server};
use super::super::{driver, report};
use crate::app::CLI_BINARY;
use crate::error::XtaskError;
use crate::livekit_server;
use crate::paths::Workspace;
use crate::process;
use crate::testnet::Testnet;

/// `g2g.p50` → "41", by server.
type Samples = BTreeMap<String, String>;

pub fn run(workspace: &Workspace, release: &Path) -> Result<(), XtaskError> {
    let livekit = livekit_server::ensure(workspace)?;
    let testnet = Testnet::create(&["sfu", "clients"])?;
    let (Some(sfu), Some(clients)) = (testnet.host("sfu"), testnet.host("clients")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let confab = release.join(CLI_BINARY);
    let mut measured = Vec::new();
    for (server, binary) in [
        (Server::Confab, confab.as_path()),
        (Server::LiveKit, &livekit),
    ] {
        let mut child = start_server(sfu, server, binary)?;
        let python = workspace.python_venv().join("bin").join("python");
        let mut command = process::command(workspace, "ip");
        command
            .args(clients.exec_args())
            .arg(python)
            .arg(workspace.root.join("tests/bench/media_latency.py"))
            .args(["--url", &format!("ws://{}:7880", sfu.ip)])
            .args(["--api-key", API_KEY, "--api-secret", API_SECRET])
            .arg("--confab")
            .arg(&confab);
        let result = driver::figures(&mut command, "media_latency.py", parse_sample);
        let _ = std::process::Command::new("kill")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
        measured.push((server, result?));
    }
    drop(testnet);
    let body = render(&measured)?;
    println!("{body}");
    report::write_section(
        &workspace.root.join("docs/BENCHMARKS.md"),
        "media-latency",
        &body,
    )
}

/// `SAMPLE g2g p50 41` → ("g2g.p50", "41").
fn parse_sample(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    (words.next()? == "SAMPLE").then_some(())?;
    let kind = words.next()?;
    let what = words.next()?;
    let value = words.next()?;
    Some((format!("{kind}.{what}"), value.to_owned()))
}

fn render(measured: &[(Server, Samples)]) -> Result<String, XtaskError> {
    let mut body = format!(
        "## Media: glass-to-glass and mouth-to-ear\n\n\
         {} · {} · `cargo xtask bench media`\n\n\
         Two `confab join` processes in one network namespace, the server in another, in the \
         same run (`tests/bench/media_latency.py`). Glass-to-glass: the publisher's stamped \
         1280×720 test pattern (three VP8 layers), from the capture time drawn into the \
         pixels to the frame decoded at the viewer (the top layer; display not included). \
         Mouth-to-ear: 60 ms tone bursts played into a virtual microphone (PulseAudio), \
         through the publisher's whole microphone path (cpal, echo cancellation, noise \
         suppression, gain control, Opus) and the viewer's playout (jitter buffer, decoding, \
         mixing, cpal into a virtual speaker); both ends are recorded as the two channels of \
         one PulseAudio sink, so the delay is sample-aligned (a real sound card's converters, \
         a few ms each way, are not included).\n\n\
         | server | glass-to-glass p50 | p95 | frames | mouth-to-ear p50 | p95 | bursts |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        report::machine(),
        report::today()
    );
    for (server, samples) in measured {
        let get = |name: &str| {
            samples
                .get(name)
                .cloned()
                .ok_or_else(|| XtaskError::Unexpected(format!("the driver reported no {name}")))
        };
        body.push_str(&format!(
            "| {} | {} ms | {} ms | {} | {} ms | {} ms | {} |\n",
            server.label(),
            get("g2g.p50")?,
            get("g2g.p95")?,
            get("g2g.count")?,
            get("m2e.p50")?,
            get("m2e.p95")?,
            get("m2e.count")?,
        ));
    }
    for (server, samples) in measured {
        let get = |name: &str| samples.get(name).map_or("?", String::as_str);
        body.push_str(&format!(
            "\nWhere the mouth-to-ear time goes ({}): the listener's jitter buffer held the last \
             packet {} ms (its target {} ms; {} frames skipped while it shrank to that; {} \
             frames concealed, at most five at the start of each DTX pause between bursts). The \
             fixed shares: the microphone's 20 ms capture period (cpal's \
             PulseAudio record fragment), Opus's 20 ms frame and 6.5 ms look-ahead, and the \
             speaker's PulseAudio buffer (two 10 ms callback periods; with 20 ms periods, \
             until 2026-12-04, mouth-to-ear was 82-83 ms); the rest is the network, \
             processing, scheduling and the virtual devices' own blocks.\n",
            server.label(),
            get("m2e.jitter-wait"),
            get("m2e.jitter-target"),
            get("m2e.jitter-dropped"),
            get("m2e.concealed"),
        ));
    }
    let ours = measured
        .iter()
        .find(|(server, _)| matches!(server, Server::Confab))
        .map(|(_, samples)| samples);
    let p50 = |name: &str| {
        ours.and_then(|samples| samples.get(name))
            .and_then(|value| value.parse::<f64>().ok())
    };
    let verdict = |value: Option<f64>, goal: f64| match value {
        Some(value) if value <= goal => "met",
        Some(_) => "**not met**",
        None => "not measured",
    };
    body.push_str(&format!(
        "\n**Goals** (through confab server): glass-to-glass p50 ≤ 100 ms — {}; mouth-to-ear \
         p50 ≤ 60 ms — {}.\n",
        verdict(p50("g2g.p50"), 100.0),
        verdict(p50("m2e.p50"), 60.0),
    ));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_are_parsed_and_others_ignored() {
        assert_eq!(
            parse_sample("SAMPLE m2e p50 48.5"),
            Some(("m2e.p50".into(), "48.5".into()))
        );
        assert_eq!(parse_sample("video-decoded camera"), None);
        assert_eq!(parse_sample("SAMPLE g2g"), None);
    }

    #[test]
    fn a_missing_figure_is_an_error() {
        assert!(render(&[(Server::Confab, Samples::new())]).is_err());
    }
}
