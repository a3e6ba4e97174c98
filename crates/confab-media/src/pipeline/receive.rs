//! `RemoteTrack` → decode → the newest decoded frame (video) or a stream of decoded 20 ms
//! frames (audio). Gaps are handled where they are seen: a video decoder that loses its
//! reference asks the publisher for a keyframe, and lost audio is rebuilt from FEC or
//! concealed so playout never stalls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_rtc::room::{FrameCodec, Layer, RemoteFrame, RemoteTrack};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use super::{MediaTask, PipelineError, stopped};
use crate::audio::opus::{FRAME_SAMPLES, OpusDecoder};
use crate::i420::VideoFrame;
use crate::video::codec::VideoDecoders;
use crate::video::stamp::{self, FrameStamp};

/// How often a blocked receiver looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);
/// At most this many lost audio frames in a row are concealed; a longer gap is silence the
/// jitter buffer skips rather than 'plays'.
const MAX_CONCEALED_RUN: u64 = 5;
/// Decoded audio frames waiting for their reader (1 s).
const AUDIO_QUEUE: usize = 50;
/// Keyframe requests are at most this frequent per track.
const KEYFRAME_REQUEST_SPACING: Duration = Duration::from_millis(300);

/// The newest decoded frame of a video track, with what the receiver counted so far.
#[derive(Debug, Clone)]
pub struct DecodedVideo {
    pub frame: Arc<VideoFrame>,
    /// The test pattern's stamp, when the frame carries one.
    pub stamp: Option<FrameStamp>,
    pub layer: Option<Layer>,
    pub codec: FrameCodec,
    pub received_at: Instant,
    /// Frames decoded on this track so far, this one included.
    pub decoded: u64,
    /// Frames that could not be decoded (corrupt, or missing their reference).
    pub failed: u64,
    /// Frames of a codec this build cannot decode.
    pub unsupported: u64,
}

/// A running video decoder: the newest frame is in `frames` (newest only, by design: a slow
/// renderer skips frames instead of falling behind).
#[derive(Debug)]
pub struct VideoReceiver {
    pub task: MediaTask,
    pub frames: watch::Receiver<Option<DecodedVideo>>,
}

/// Decodes `track`'s frames on a thread of their own. Must be called inside the runtime.
pub fn receive_video(mut track: RemoteTrack) -> Result<VideoReceiver, PipelineError> {
    let (sender, frames) = watch::channel(None);
    let runtime = Handle::current();
    let mut decoders = VideoDecoders::default();
    let task = MediaTask::spawn("confab-video-receive", move |stop| {
        let mut counts = Counts::default();
        // Until a keyframe arrives, deltas cannot be decoded; nor after a change of codec.
        let mut synced = false;
        let mut last_codec = None;
        let mut last_request: Option<Instant> = None;
        while let Some(frame) = next_frame(&runtime, &mut track, &stop) {
            if !VideoDecoders::supports(frame.codec) {
                counts.unsupported += 1;
                continue;
            }
            let keyframe = VideoDecoders::is_keyframe(frame.codec, &frame.data);
            if (!frame.contiguous || last_codec != Some(frame.codec)) && !keyframe {
                synced = false;
            }
            last_codec = Some(frame.codec);
            if keyframe {
                synced = true;
            }
            let outcome = if synced {
                decoders.decode(frame.codec, &frame.data).map_err(Some)
            } else {
                Err(None)
            };
            match outcome {
                Ok(Some(image)) => {
                    counts.decoded += 1;
                    let stamp = stamp::read(&image);
                    sender.send_replace(Some(DecodedVideo {
                        frame: Arc::new(image),
                        stamp,
                        layer: frame.layer,
                        codec: frame.codec,
                        received_at: frame.received_at,
                        decoded: counts.decoded,
                        failed: counts.failed,
                        unsupported: counts.unsupported,
                    }));
                }
                Ok(None) => {}
                Err(error) => {
                    counts.failed += 1;
                    synced = false;
                    if let Some(error) = error {
                        tracing::debug!(track = track.sid(), %error, "frame not decodable");
                    }
                    let due =
                        last_request.is_none_or(|at| at.elapsed() >= KEYFRAME_REQUEST_SPACING);
                    if due {
                        last_request = Some(Instant::now());
                        if runtime.block_on(track.request_keyframe()).is_err() {
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(VideoReceiver { task, frames })
}

#[derive(Debug, Default)]
struct Counts {
    decoded: u64,
    failed: u64,
    unsupported: u64,
}

/// One decoded 20 ms audio frame.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// 48 kHz mono samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Rebuilt from FEC or concealed, not decoded from its own packet.
    pub concealed: bool,
}

/// A running audio decoder: decoded frames arrive on `frames` (a reader that falls more than
/// a second behind loses frames, never stalls the decoder).
#[derive(Debug)]
pub struct AudioReceiver {
    pub task: MediaTask,
    pub frames: mpsc::Receiver<DecodedAudio>,
}

pub fn receive_audio(mut track: RemoteTrack) -> Result<AudioReceiver, PipelineError> {
    let (sender, frames) = mpsc::channel(AUDIO_QUEUE);
    let runtime = Handle::current();
    let mut decoder = OpusDecoder::new()?;
    let task = MediaTask::spawn("confab-audio-receive", move |stop| {
        let mut last_rtp_time: Option<u64> = None;
        while let Some(frame) = next_frame(&runtime, &mut track, &stop) {
            if frame.codec != FrameCodec::Opus {
                continue;
            }
            let lost = last_rtp_time.map_or(0, |last| lost_frames(last, frame.rtp_time));
            last_rtp_time = Some(frame.rtp_time);
            let mut out = Vec::new();
            for missing in (0..lost.min(MAX_CONCEALED_RUN)).rev() {
                // The frame just before this packet can come from its FEC; earlier ones are
                // concealed.
                let next = (missing == 0).then_some(&frame.data[..]);
                out.push(DecodedAudio {
                    samples: decoder.conceal(next)?,
                    concealed: true,
                });
            }
            match decoder.decode(&frame.data) {
                Ok(samples) => out.push(DecodedAudio {
                    samples,
                    concealed: false,
                }),
                Err(error) => {
                    tracing::debug!(track = track.sid(), %error, "audio packet not decodable");
                    out.push(DecodedAudio {
                        samples: decoder.conceal(None)?,
                        concealed: true,
                    });
                }
            }
            for decoded in out {
                match sender.try_send(decoded) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                }
            }
        }
        Ok(())
    })?;
    Ok(AudioReceiver { task, frames })
}

/// Whole 20 ms frames missing between two RTP times (48 kHz), 0 for reordering or a
/// restarted stream.
fn lost_frames(last: u64, now: u64) -> u64 {
    let step = FRAME_SAMPLES as u64;
    match now.checked_sub(last) {
        Some(delta) if delta > step && delta < step * 50 => delta / step - 1,
        _ => 0,
    }
}

/// The track's next frame; `None` once it ends or the task is stopped.
pub(super) fn next_frame(
    runtime: &Handle,
    track: &mut RemoteTrack,
    stop: &std::sync::atomic::AtomicBool,
) -> Option<RemoteFrame> {
    while !stopped(stop) {
        // The timer is made inside `block_on`: it needs the runtime's context.
        match runtime.block_on(async { tokio::time::timeout(STOP_POLL, track.recv()).await }) {
            Ok(frame) => return frame,
            Err(_) => continue, // no frame yet: look at the stop flag again
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_rtp_time_count_the_missing_frames() {
        assert_eq!(lost_frames(0, 960), 0);
        assert_eq!(lost_frames(0, 960 * 3), 2);
        assert_eq!(lost_frames(960 * 3, 960), 0, "reordered");
        assert_eq!(lost_frames(0, 960 * 1000), 0, "a restart, not a gap");
    }
}
