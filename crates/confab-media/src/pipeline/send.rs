//! Capture → encode → `LocalTrack::send`, steered by the track's [`PublisherFeedback`].

use std::time::Instant;

use confab_rtc::room::{
    EncodedFrame, Layer, LayerSpec, LocalTrack, PublisherFeedback, TrackOptions, TrackOptionsKind,
};
use tokio::runtime::Handle;

use super::{MediaTask, PipelineError, stopped};
use crate::audio::analysis::audio_level;
use crate::audio::opus::{OpusEncoder, OpusSettings};
use crate::audio::source::AudioSource;
use crate::i420::I420Layout;
use crate::video::codec::RTP_VIDEO_CLOCK;
use crate::video::simulcast::{EncodeControls, LayerTarget, SimulcastEncoder};
use crate::video::source::VideoSource;

/// The frame rate the encoders are tuned for (sources may deliver fewer).
pub(super) const FPS: u32 = 30;

/// Publishes `source` on `track`, encoded as `options` (the same options the track was
/// published with: its codec, its layers and whether it is screen content) describe — in the
/// other codec if the server accepted only that one. Must be called inside the Tokio runtime
/// that runs the room.
pub fn send_video(
    track: LocalTrack,
    options: &TrackOptions,
    mut source: Box<dyn VideoSource>,
) -> Result<MediaTask, PipelineError> {
    let TrackOptionsKind::Video {
        layers,
        detail,
        codec,
        ..
    } = &options.kind
    else {
        return Err(PipelineError::WrongTrack("video"));
    };
    let (layers, detail, requested) = (layers.clone(), *detail, *codec);
    let targets = layer_targets(&layers)?;
    let mut feedback = track.feedback();
    let codec_now = move |feedback: &PublisherFeedback| feedback.codec.unwrap_or(requested);
    let mut encoder =
        SimulcastEncoder::new(codec_now(&feedback.borrow()), targets.clone(), FPS, detail)?;
    let runtime = Handle::current();
    MediaTask::spawn("confab-video-send", move |stop| {
        let mut keyframes_seen = feedback.borrow().keyframe_requests;
        let started = Instant::now();
        while !stopped(&stop) {
            let captured = source.capture()?;
            let wanted = feedback.borrow_and_update().clone();
            let codec = codec_now(&wanted);
            if encoder.codec() != Some(codec) {
                tracing::info!(?codec, "the server accepted the other codec; encoding that");
                encoder = SimulcastEncoder::new(codec, targets.clone(), FPS, detail)?;
            }
            let controls = controls_for(&layers, &wanted, &mut keyframes_seen);
            let media_time = captured.captured_at.saturating_duration_since(started);
            let rtp_time = media_time.as_micros() as u64 * u64::from(RTP_VIDEO_CLOCK) / 1_000_000;
            for encoded in encoder.encode(&captured.frame, rtp_time, &controls)? {
                let frame = EncodedFrame {
                    data: encoded.frame.data,
                    timestamp: media_time,
                    captured_at: captured.captured_at,
                    layer: (layers.len() > 1).then(|| layers[encoded.layer].layer),
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

/// The encoder's targets for a track's layers (lowest first).
pub(super) fn layer_targets(layers: &[LayerSpec]) -> Result<Vec<LayerTarget>, PipelineError> {
    layers
        .iter()
        .map(|spec| {
            Ok(LayerTarget {
                layout: I420Layout::new(spec.width, spec.height)?,
                max_bitrate_bps: spec.max_bitrate_bps,
            })
        })
        .collect()
}

/// What the feedback asks of the encoder now; a new keyframe request is consumed. A muted
/// track encodes no layer (each starts again with a keyframe when it is unmuted).
fn controls_for(
    layers: &[LayerSpec],
    feedback: &PublisherFeedback,
    keyframes_seen: &mut u64,
) -> EncodeControls {
    let keyframe = feedback.keyframe_requests != *keyframes_seen;
    *keyframes_seen = feedback.keyframe_requests;
    EncodeControls {
        keyframe,
        // A single-layer track is always wanted while published: servers only describe
        // simulcast layers in their quality updates.
        active: layers
            .iter()
            .map(|spec| {
                !feedback.muted && (layers.len() == 1 || layer_wanted(feedback, spec.layer))
            })
            .collect(),
        available_bitrate_bps: feedback.available_bitrate_bps,
    }
}

pub(super) fn layer_wanted(feedback: &PublisherFeedback, layer: Layer) -> bool {
    feedback.active_layers[layer.index()]
}

/// Publishes `source` on the audio `track` as Opus (FEC on; DTX as `dtx` says); nothing is
/// encoded while the track is muted.
pub fn send_audio(
    track: LocalTrack,
    mut source: Box<dyn AudioSource>,
    dtx: bool,
) -> Result<MediaTask, PipelineError> {
    let mut encoder = OpusEncoder::new(OpusSettings {
        dtx,
        ..OpusSettings::default()
    })?;
    let runtime = Handle::current();
    MediaTask::spawn("confab-audio-send", move |stop| {
        let feedback = track.feedback();
        let mut frames = 0u32;
        while !stopped(&stop) {
            let samples = source.capture()?;
            let captured_at = Instant::now();
            let timestamp = crate::audio::opus::FRAME_DURATION * frames;
            frames += 1;
            if feedback.borrow().muted {
                continue;
            }
            let packet = encoder.encode(&samples)?;
            // DTX's "nothing changed" packets carry no audio; WebRTC does not send them.
            if packet.len() <= 2 {
                continue;
            }
            let frame = EncodedFrame {
                data: packet,
                timestamp,
                captured_at,
                layer: None,
                audio_level: Some(audio_level(&samples)),
            };
            if runtime.block_on(track.send(frame)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera_layers() -> Vec<LayerSpec> {
        match TrackOptions::camera(confab_rtc::room::VideoCodec::Vp8).kind {
            TrackOptionsKind::Video { layers, .. } => layers,
            TrackOptionsKind::Audio { .. } => unreachable!("a camera is video"),
        }
    }

    #[test]
    fn feedback_turns_into_encoder_controls_once_per_request() {
        let layers = camera_layers();
        let mut seen = 0;
        let feedback = PublisherFeedback {
            keyframe_requests: 1,
            active_layers: [true, false, false],
            available_bitrate_bps: 400_000,
            muted: false,
            codec: None,
        };
        let first = controls_for(&layers, &feedback, &mut seen);
        assert!(first.keyframe);
        assert_eq!(first.active, [true, false, false]);
        assert_eq!(first.available_bitrate_bps, 400_000);
        assert!(!controls_for(&layers, &feedback, &mut seen).keyframe);
    }

    #[test]
    fn a_single_layer_track_is_always_encoded() {
        let layers = vec![LayerSpec {
            layer: Layer::High,
            width: 1920,
            height: 1080,
            max_bitrate_bps: 3_000_000,
        }];
        let feedback = PublisherFeedback {
            active_layers: [false; 3],
            ..PublisherFeedback::default()
        };
        assert_eq!(controls_for(&layers, &feedback, &mut 0).active, [true]);
    }

    #[test]
    fn a_muted_track_encodes_no_layer_at_all() {
        let feedback = PublisherFeedback {
            muted: true,
            ..PublisherFeedback::default()
        };
        assert_eq!(
            controls_for(&camera_layers(), &feedback, &mut 0).active,
            [false, false, false]
        );
        let single = &camera_layers()[2..];
        assert_eq!(controls_for(single, &feedback, &mut 0).active, [false]);
    }
}
