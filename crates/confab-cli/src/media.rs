//! `confab join`'s media: publishing the test pattern and tone, and decoding what others
//! publish into one summary line per track (what scripts and the conformance tests read).

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use confab_media::audio::analysis::{dominant_frequency, rms};
use confab_media::audio::source::ToneSource;
use confab_media::i420::I420Layout;
use confab_media::pipeline::{self, MediaTask, PipelineError};
use confab_media::screen::{self, ScreenError, ShareOptions};
use confab_media::video::source::TestPattern;
use confab_rtc::room::{
    FrameCodec, RemoteTrack, Room, RoomError, TrackOptions, TrackOptionsKind, VideoCodec,
};
use tokio::time::Instant;

use crate::cli::LoadVideo;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{0}")]
    Room(#[from] RoomError),
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("cannot share the screen: {0}")]
    Screen(#[from] ScreenError),
}

/// Publishes the stamped test pattern (the camera's full layer ladder, in `codec`) and a tone.
pub async fn publish_test_media(
    room: &Room,
    tone_hz: f64,
    codec: VideoCodec,
) -> Result<Vec<MediaTask>, MediaError> {
    let options = TrackOptions::camera(codec);
    let TrackOptionsKind::Video { width, height, .. } = options.kind else {
        return Err(PipelineError::WrongTrack("video").into());
    };
    let layout = I420Layout::new(width, height).map_err(PipelineError::from)?;
    let camera = room.publish_track(options.clone()).await?;
    let microphone = room.publish_track(TrackOptions::microphone()).await?;
    println!(
        "published camera={} microphone={}",
        camera.sid(),
        microphone.sid()
    );
    Ok(vec![
        pipeline::send_video(camera, &options, Box::new(TestPattern::new(layout, 30)))?,
        pipeline::send_audio(microphone, Box::new(ToneSource::new(tone_hz, 0.3)), true)?,
    ])
}

/// Publishes `--load-video`'s replayed test pattern: a one-layer camera or a screen share.
pub async fn publish_load_video(
    room: &Room,
    load: LoadVideo,
    codec: VideoCodec,
) -> Result<MediaTask, MediaError> {
    let options = if load.screen {
        TrackOptions::screen_share(codec, load.width, load.height)
    } else {
        TrackOptions::camera_sized(codec, load.width, load.height)
    };
    let track = room.publish_track(options.clone()).await?;
    let kind = if load.screen { "screen" } else { "camera" };
    println!(
        "published {kind}={} size={}x{} replayed",
        track.sid(),
        load.width,
        load.height
    );
    Ok(pipeline::replay_test_pattern(track, &options)?)
}

/// Shares the screen or window `id` (from `confab devices`) at its own size, in `codec`.
pub async fn share_screen(
    room: &Room,
    id: &str,
    codec: VideoCodec,
) -> Result<MediaTask, MediaError> {
    let source = screen::backend()?.open(id, ShareOptions::default())?;
    let layout = source.layout();
    let options = TrackOptions::screen_share(codec, layout.width, layout.height);
    let track = room.publish_track(options.clone()).await?;
    println!(
        "published screen={} source={id} size={}x{}",
        track.sid(),
        layout.width,
        layout.height
    );
    Ok(pipeline::send_video(track, &options, source)?)
}

/// Decodes a video track until it ends; prints `first-video-frame` at the first decoded
/// frame (the join time `bench client` reads) and returns the summary line.
pub async fn summarise_video(
    track: RemoteTrack,
    identity: String,
    connect_started: Instant,
) -> Result<String, MediaError> {
    let sid = track.sid().to_owned();
    let mut receiver = pipeline::receive_video(track)?;
    let mut stamped = 0u64;
    let mut last_counter = None;
    let mut ages = Vec::new();
    let mut last = None;
    while receiver.frames.changed().await.is_ok() {
        let Some(decoded) = receiver.frames.borrow_and_update().clone() else {
            continue;
        };
        if last.is_none() {
            let ms = connect_started.elapsed().as_secs_f64() * 1e3;
            println!("first-video-frame {identity} ms={ms:.1}");
        }
        if let Some(stamp) = decoded.stamp {
            stamped += 1;
            last_counter = Some(stamp.counter);
            ages.push(stamp.age_ms(unix_ms()));
        }
        last = Some(decoded);
    }
    receiver.task.stop()?;
    ages.sort_unstable();
    let (decoded, failed, unsupported, size) = last.as_ref().map_or((0, 0, 0, (0, 0)), |d| {
        (
            d.decoded,
            d.failed,
            d.unsupported,
            (d.frame.width(), d.frame.height()),
        )
    });
    let codec = last.map_or("-", |d| codec_name(d.codec));
    Ok(format!(
        "video-decoded {identity} {sid} codec={codec} frames={decoded} failed={failed} \
         unsupported={unsupported} stamped={stamped} last-counter={} size={}x{} age-p50-ms={} \
         age-p95-ms={}",
        last_counter.map_or("-".into(), |c| c.to_string()),
        size.0,
        size.1,
        percentile(&ages, 50),
        percentile(&ages, 95),
    ))
}

/// The `p`-th percentile (nearest rank) of sorted `values`, or `-` when there are none.
fn percentile(sorted: &[u32], p: usize) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].to_string()
}

fn codec_name(codec: FrameCodec) -> &'static str {
    match codec {
        FrameCodec::Vp8 => "vp8",
        FrameCodec::H264 => "h264",
        FrameCodec::Vp9 => "vp9",
        FrameCodec::Av1 => "av1",
        FrameCodec::Opus => "opus",
        FrameCodec::Other => "other",
    }
}

/// Decodes an audio track until it ends; returns the summary line with the strongest
/// frequency of the last second heard.
pub async fn summarise_audio(track: RemoteTrack, identity: String) -> Result<String, MediaError> {
    const WINDOW: usize = 48_000;
    let sid = track.sid().to_owned();
    let mut receiver = pipeline::receive_audio(track)?;
    let (mut frames, mut concealed) = (0u64, 0u64);
    let mut recent: VecDeque<f32> = VecDeque::with_capacity(WINDOW);
    while let Some(frame) = receiver.frames.recv().await {
        frames += 1;
        if frame.concealed {
            concealed += 1;
            continue;
        }
        for sample in frame.samples {
            if recent.len() == WINDOW {
                recent.pop_front();
            }
            recent.push_back(sample);
        }
    }
    receiver.task.stop()?;
    let window: Vec<f32> = recent.into_iter().collect();
    Ok(format!(
        "audio-decoded {identity} {sid} frames={frames} concealed={concealed} tone-hz={} rms={:.3}",
        dominant_frequency(&window).map_or("-".into(), |hz| format!("{hz:.0}")),
        rms(&window),
    ))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ages: Vec<u32> = (1..=20).collect();
        assert_eq!(percentile(&ages, 50), "10");
        assert_eq!(percentile(&ages, 95), "19");
        assert_eq!(percentile(&[7], 95), "7");
        assert_eq!(percentile(&[], 50), "-");
    }
}
