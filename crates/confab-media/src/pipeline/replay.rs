//! A light publisher for load: the stamped test pattern encoded once, for a few seconds, then
//! sent in a loop at its frame rate, as `lk load-test`'s pre-encoded tracks are. It costs next
//! to no CPU, so many publishers can share a machine with what they load (a benchmark's
//! subscriber). Each pass starts with a keyframe in every layer; keyframe requests wait for the
//! next pass (at most [`REPLAY_SECONDS`]), and layers nobody watches are not sent.

use std::time::{Duration, Instant};

use confab_rtc::room::{EncodedFrame, LocalTrack, TrackOptions, TrackOptionsKind};
use tokio::runtime::Handle;

use super::send::{FPS, layer_targets, layer_wanted};
use super::{MediaTask, PipelineError, stopped};
use crate::i420::I420Layout;
use crate::video::codec::RTP_VIDEO_CLOCK;
use crate::video::simulcast::{EncodeControls, LayerFrame, SimulcastEncoder};
use crate::video::source::TestPattern;

/// How long the encoded clip is.
pub const REPLAY_SECONDS: u32 = 2;

/// Publishes the test pattern on `track` as `options` describe (its size, layers and codec),
/// encoded once and replayed. Must be called inside the Tokio runtime that runs the room.
pub fn replay_test_pattern(
    track: LocalTrack,
    options: &TrackOptions,
) -> Result<MediaTask, PipelineError> {
    let TrackOptionsKind::Video {
        width,
        height,
        layers,
        detail,
        codec,
    } = &options.kind
    else {
        return Err(PipelineError::WrongTrack("video"));
    };
    let feedback = track.feedback();
    let codec = feedback.borrow().codec.unwrap_or(*codec);
    let clip = encode_clip(
        SimulcastEncoder::new(codec, layer_targets(layers)?, FPS, *detail)?,
        I420Layout::new(*width, *height)?,
    )?;
    let layers = layers.clone();
    let runtime = Handle::current();
    MediaTask::spawn("confab-video-replay", move |stop| {
        let interval = Duration::from_secs(1) / FPS;
        let started = Instant::now();
        for index in 0u32.. {
            if stopped(&stop) {
                break;
            }
            // The pace of a camera: the sleep is the clip's clock, not a wait on anything.
            let due = started + interval * index;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let wanted = feedback.borrow().clone();
            if wanted.muted {
                continue;
            }
            let picture = &clip[index as usize % clip.len()];
            for encoded in picture {
                let spec = layers[encoded.layer];
                if layers.len() > 1 && !layer_wanted(&wanted, spec.layer) {
                    continue;
                }
                let frame = EncodedFrame {
                    data: encoded.frame.data.clone(),
                    timestamp: due.duration_since(started),
                    captured_at: due,
                    layer: (layers.len() > 1).then_some(spec.layer),
                    audio_level: None,
                };
                if runtime.block_on(track.send(frame)).is_err() {
                    return Ok(()); // the room is gone
                }
            }
        }
        Ok(())
    })
}

/// [`REPLAY_SECONDS`] of the test pattern in every layer, the first picture a keyframe.
fn encode_clip(
    mut encoder: SimulcastEncoder,
    layout: I420Layout,
) -> Result<Vec<Vec<LayerFrame>>, PipelineError> {
    let mut pattern = TestPattern::new(layout, FPS);
    let controls = EncodeControls {
        keyframe: false,
        active: vec![true; encoder.targets().len()],
        available_bitrate_bps: 0,
    };
    (0..FPS * REPLAY_SECONDS)
        .map(|index| {
            let rtp_time = u64::from(index) * u64::from(RTP_VIDEO_CLOCK / FPS);
            Ok(encoder.encode(&pattern.render().frame, rtp_time, &controls)?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::codec::VideoDecoders;
    use crate::video::stamp::read;
    use confab_rtc::room::{FrameCodec, VideoCodec};

    #[test]
    fn the_clip_starts_with_a_keyframe_in_every_layer_and_decodes_in_a_loop() {
        let options = TrackOptions::camera(VideoCodec::Vp8);
        let TrackOptionsKind::Video { layers, .. } = &options.kind else {
            unreachable!("a camera is video");
        };
        let encoder = SimulcastEncoder::new(
            VideoCodec::Vp8,
            layer_targets(layers).expect("valid layers"),
            FPS,
            false,
        )
        .expect("encoder");
        let clip = encode_clip(encoder, I420Layout::new(1280, 720).expect("layout"))
            .expect("the clip encodes");
        assert_eq!(clip.len(), (FPS * REPLAY_SECONDS) as usize);
        assert!(clip[0].len() == 3 && clip[0].iter().all(|f| f.frame.keyframe));
        assert!(clip[1..].iter().flatten().all(|f| !f.frame.keyframe));
        // The top layer decodes through the clip twice over (the loop's seam is a keyframe),
        // each picture showing the pattern's frame of its place in the clip.
        let mut decoders = VideoDecoders::default();
        let twice = clip.iter().chain(clip.iter()).enumerate();
        for (index, picture) in twice {
            let top = picture.iter().find(|f| f.layer == 2).expect("top layer");
            let frame = decoders
                .decode(FrameCodec::Vp8, &top.frame.data)
                .expect("decodes")
                .expect("a picture per frame");
            let stamp = read(&frame).expect("the stamp survives the codec");
            assert_eq!(stamp.counter as usize, index % clip.len());
        }
    }
}
