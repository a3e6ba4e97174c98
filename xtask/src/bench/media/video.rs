//! `cargo xtask bench media`, video: criterion's timings of `crates/confab-media/benches/
//! codecs.rs` (VP8 and H.264 encode and decode per frame at 720p and 360p, the camera's
//! three-layer simulcast encode, the conversions before the encoder), read from its
//! `bencher` output lines.

use std::collections::BTreeMap;

use super::super::report;
use crate::app::HOST_PACKAGES;
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

/// Nanoseconds per iteration by benchmark id (`encode/vp8-720p`).
type Timings = BTreeMap<String, f64>;

/// 30 fps: the frame budget the share of one core is computed against.
const FRAME_BUDGET_MS: f64 = 1000.0 / 30.0;

pub fn run(workspace: &Workspace) -> Result<(), XtaskError> {
    let mut command = process::command(workspace, "cargo");
    command
        .args(["bench", "--locked", "--bench", "codecs"])
        .args(HOST_PACKAGES)
        .args(["--", "--output-format", "bencher"]);
    let (status, lines) = process::run_streaming(&mut command)?;
    if !status.success() {
        return Err(XtaskError::Unexpected(format!(
            "the codec benchmarks failed ({status})"
        )));
    }
    let timings: Timings = lines
        .iter()
        .filter_map(|line| parse_bencher(line))
        .collect();
    let body = render(&timings)?;
    println!("{body}");
    report::write_section(
        &workspace.root.join("docs/BENCHMARKS.md"),
        "media-video",
        &body,
    )
}

/// `test encode/vp8-720p ... bench:   4,123,456 ns/iter (+/- 12,345)` → the id and ns.
fn parse_bencher(line: &str) -> Option<(String, f64)> {
    let rest = line.strip_prefix("test ")?;
    let (id, rest) = rest.split_once(" ... bench:")?;
    let number = rest.split_whitespace().next()?;
    let nanoseconds = number.replace(',', "").parse().ok()?;
    Some((id.trim().to_owned(), nanoseconds))
}

fn render(timings: &Timings) -> Result<String, XtaskError> {
    let ms = |id: &str| {
        timings
            .get(id)
            .map(|ns| ns / 1e6)
            .ok_or_else(|| XtaskError::Unexpected(format!("the benchmarks reported no {id}")))
    };
    let mut body = format!(
        "## Media: video codecs and conversions\n\n\
         {} · {} · `cargo xtask bench media` (criterion, `crates/confab-media/benches/codecs.rs`)\n\n\
         The moving test pattern at 30 fps, two seconds looped; the pipeline's realtime \
         settings (VP8: libvpx realtime, CBR, error resilient; H.264: OpenH264 constrained \
         baseline); 720p at 1.7 Mbit/s, 360p at 500 kbit/s. Milliseconds per frame (mean), and \
         the share of one core that takes at 30 fps.\n\n\
         | codec | size | encode ms | decode ms | encode, share of a core at 30 fps |\n\
         | --- | --- | --- | --- | --- |\n",
        report::machine(),
        report::today()
    );
    for codec in ["vp8", "h264"] {
        for size in ["720p", "360p"] {
            let encode = ms(&format!("encode/{codec}-{size}"))?;
            let decode = ms(&format!("decode/{codec}-{size}"))?;
            body.push_str(&format!(
                "| {codec} | {size} | {encode:.2} | {decode:.2} | {:.0} % |\n",
                encode / FRAME_BUDGET_MS * 100.0
            ));
        }
    }
    body.push('\n');
    for codec in ["vp8", "h264"] {
        let simulcast = ms(&format!("simulcast/{codec}-720p-3-layers"))?;
        body.push_str(&format!(
            "Camera simulcast in {codec} (1280×720, 640×360 and 320×180 from each frame, with \
             the box-filter scaling): {simulcast:.2} ms per frame, **{:.0} % of one core at \
             30 fps** (goal ≤ 40 %).\n\n",
            simulcast / FRAME_BUDGET_MS * 100.0
        ));
    }
    body.push_str(&format!(
        "Before the encoder: a 1920×1080 X11 screen (BGRX) to I420 {:.2} ms; a 1280×720 MJPEG \
         camera frame to I420 (zune-jpeg, then BT.601) {:.2} ms.\n",
        ms("convert/bgrx-1080p-to-i420")?,
        ms("convert/mjpeg-720p-to-i420")?,
    ));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencher_lines_are_parsed_and_others_ignored() {
        assert_eq!(
            parse_bencher("test encode/vp8-720p ... bench:     4,123,456 ns/iter (+/- 12,345)"),
            Some(("encode/vp8-720p".into(), 4_123_456.0))
        );
        assert_eq!(parse_bencher("Benchmarking encode/vp8-720p"), None);
        assert_eq!(parse_bencher("test x ... bench: many ns/iter"), None);
    }

    #[test]
    fn a_missing_benchmark_is_an_error_not_a_zero() {
        assert!(render(&Timings::new()).is_err());
    }
}
