//! `cargo xtask bench media`, audio: Confab's audio path beside LiveKit's libwebrtc audio processing
//! module on the same speech clips, in the same run — echo (ERLE, AECMOS) in single and
//! double talk, intelligibility under 10 % loss (STOI), and the processing cost per 10 ms
//! frame. The driver is `tests/conformance/python/voice_quality.py`, the same code the
//! conformance tests assert with.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::{driver, report};
use crate::app::CLI_BINARY;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

type Scores = BTreeMap<String, f64>;

pub fn run(workspace: &Workspace, release: &Path) -> Result<(), XtaskError> {
    let python = workspace.python_venv().join("bin").join("python");
    let script = workspace.conformance_dir().join("python/voice_quality.py");
    let mut command = process::command(workspace, &python);
    command.arg(&script).arg(release.join(CLI_BINARY));
    let scores = driver::figures(&mut command, "voice_quality.py", parse_score)?;
    let body = render(&scores)?;
    println!("{body}");
    report::write_section(
        &workspace.root.join("docs/BENCHMARKS.md"),
        "media-audio",
        &body,
    )
}

/// `SCORE single_talk.confab.erle_db 23.1` → ("single_talk.confab.erle_db", 23.1).
fn parse_score(line: &str) -> Option<(String, f64)> {
    let mut words = line.split_whitespace();
    (words.next()? == "SCORE").then_some(())?;
    let name = words.next()?.to_owned();
    let value = words.next()?.parse().ok()?;
    Some((name, value))
}

fn render(scores: &Scores) -> Result<String, XtaskError> {
    let get = |name: &str| {
        scores
            .get(name)
            .copied()
            .ok_or_else(|| XtaskError::Unexpected(format!("the driver reported no {name}")))
    };
    let mut body = format!(
        "## Media: Confab's audio path vs LiveKit's libwebrtc audio processing module\n\n\
         {} · {} · `cargo xtask bench media`\n\n\
         Speech clips from espeak-ng (a far-end and a near-end voice, 48 kHz); the microphone \
         hears the far end through a synthetic room (40 ms delay, direct path and a decaying \
         tail, RT60 200 ms, 6 dB down) plus a little noise. Both modules run echo \
         cancellation, noise suppression and the high-pass filter without gain control \
         (`confab audio process --no-auto-gain`; `livekit.rtc.AudioProcessingModule` from \
         the Python SDK), 10 ms at a time, far end first. ERLE is over the far end's speech \
         after 2 s; AECMOS is Microsoft's 48 kHz model (`speechmos`), 1 (bad) to 5 (excellent).\n\n",
        report::machine(),
        report::today()
    );
    let scenarios = [
        ("far-end single talk", "single_talk", "erle_db", "ERLE dB"),
        (
            "double talk (near end from 4 s)",
            "double_talk",
            "near_kept",
            "near end kept",
        ),
    ];
    for (title, scenario, first, first_label) in scenarios {
        body.push_str(&format!(
            "| {title} | {first_label} | echo MOS | degradation MOS |\n| --- | --- | --- | --- |\n"
        ));
        for (label, key) in [
            ("no processing", "none"),
            ("Confab", "confab"),
            ("LiveKit APM", "livekit"),
        ] {
            body.push_str(&format!(
                "| {label} | {:.2} | {:.2} | {:.2} |\n",
                get(&format!("{scenario}.{key}.{first}"))?,
                get(&format!("{scenario}.{key}.echo_mos"))?,
                get(&format!("{scenario}.{key}.degradation_mos"))?,
            ));
        }
        body.push('\n');
    }
    let ours = get("cost.confab_ms_per_frame")?;
    let theirs = get("cost.livekit_ms_per_frame")?;
    body.push_str(&format!(
        "**Goal: AEC no worse than LiveKit's APM on the same clips.** Echo MOS {:.2} vs {:.2} \
         (single talk), {:.2} vs {:.2} (double talk); degradation MOS in double talk {:.2} vs \
         {:.2}.\n\n\
         Processing cost per 10 ms frame (all four stages, gain control on): Confab {ours:.3} \
         ms, LiveKit {theirs:.3} ms (through its Python FFI, two calls per frame): {:.2}×.\n\n",
        get("single_talk.confab.echo_mos")?,
        get("single_talk.livekit.echo_mos")?,
        get("double_talk.confab.echo_mos")?,
        get("double_talk.livekit.echo_mos")?,
        get("double_talk.confab.degradation_mos")?,
        get("double_talk.livekit.degradation_mos")?,
        ours / theirs.max(f64::EPSILON),
    ));
    body.push_str(&format!(
        "Intelligibility through `confab audio network` (Opus 32 kbit/s with in-band FEC, the \
         jitter buffer, FEC and concealment), STOI 0 to 1 against the clip sent: Opus alone \
         {:.3}; 10 % random loss {:.3} (worst of three seeds {:.3}); the same losses played as \
         silence {:.3}; 10 % loss with 0–60 ms jitter {:.3}.\n",
        get("loss.opus_only")?,
        get("loss.loss10_concealed_mean")?,
        get("loss.loss10_concealed_worst")?,
        get("loss.loss10_silence_mean")?,
        get("loss.loss10_jitter60")?,
    ));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_lines_are_parsed_and_others_ignored() {
        assert_eq!(
            parse_score("SCORE loss.opus_only 0.9712"),
            Some(("loss.opus_only".into(), 0.9712))
        );
        assert_eq!(parse_score("STOI: 0.9"), None);
        assert_eq!(parse_score("SCORE x notanumber"), None);
    }

    #[test]
    fn a_missing_score_is_an_error_not_a_zero() {
        assert!(render(&Scores::new()).is_err());
    }
}
