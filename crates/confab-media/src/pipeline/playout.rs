//! Remote audio → jitter buffers → mixer → far-end tap for the echo canceller → speaker.
//!
//! The speaker's device thread mixes every voice whenever the device needs sound (the sound
//! card's clock paces the playout, and nothing waits in a queue before the device). Each
//! subscribed audio track has a feeder thread that moves its packets into the mixer as they
//! arrive; the jitter buffers sit between the two clocks. The playout thread only keeps the
//! speaker on a working device.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use confab_rtc::room::{FrameCodec, RemoteTrack};
use tokio::runtime::Handle;

use super::{MediaTask, PipelineError, next_frame, stopped};
use crate::audio::mixer::Mixer;
use crate::audio::processing::AudioProcessor;
use crate::audio::sink::{AudioFeed, AudioSink, MAINTAIN_EVERY};
use crate::audio::voice::{BLOCK_SAMPLES, VoiceStats};
use crate::sync::lock;

/// The running playout. Dropping it stops the playout thread; feeders stop with their tracks.
#[derive(Debug)]
pub struct AudioPlayout {
    mixer: Arc<Mutex<Mixer>>,
    task: MediaTask,
}

impl AudioPlayout {
    /// Starts playing into `sink`, showing everything played to `echo_canceller` as the far
    /// end (so what the microphone hears of it is removed).
    pub fn start(
        mut sink: Box<dyn AudioSink>,
        echo_canceller: Option<Arc<AudioProcessor>>,
    ) -> Result<Self, PipelineError> {
        let mixer = Arc::new(Mutex::new(Mixer::new()));
        sink.start(mixing_feed(mixer.clone(), echo_canceller));
        let task = MediaTask::spawn("confab-audio-playout", move |stop| {
            while !stopped(&stop) {
                sink.maintain()?;
                std::thread::sleep(MAINTAIN_EVERY);
            }
            Ok(())
        })?;
        Ok(Self { mixer, task })
    }

    /// Plays `track` (a subscribed audio track) until it ends. Must be called inside the
    /// runtime that runs the room.
    pub fn add_track(&self, mut track: RemoteTrack) -> Result<MediaTask, PipelineError> {
        let key = track.sid().to_owned();
        lock(&self.mixer).add(&key)?;
        let mixer = self.mixer.clone();
        let runtime = Handle::current();
        MediaTask::spawn("confab-audio-feed", move |stop| {
            while let Some(frame) = next_frame(&runtime, &mut track, &stop) {
                if frame.codec == FrameCodec::Opus {
                    lock(&mixer).push(&key, frame.rtp_time, frame.data.to_vec(), frame.received_at);
                }
            }
            lock(&mixer).remove(&key);
            Ok(())
        })
    }

    /// Per-participant volume (0 to [`crate::audio::mixer::MAX_VOLUME`]) of a track's voice.
    pub fn set_volume(&self, track_sid: &str, volume: f32) {
        lock(&self.mixer).set_volume(track_sid, volume);
    }

    /// Mutes a track here only.
    pub fn set_muted(&self, track_sid: &str, muted: bool) {
        lock(&self.mixer).set_muted(track_sid, muted);
    }

    pub fn stats(&self, track_sid: &str) -> Option<VoiceStats> {
        lock(&self.mixer).stats(track_sid)
    }

    pub fn stop(self) -> Result<(), PipelineError> {
        self.task.stop()
    }
}

/// Mixes the next 10 ms when the sink asks, and shows it to the echo canceller as what is
/// being played. A frame that cannot be mixed is played as silence: the device thread has
/// nobody to hand an error to, and the next frame may well mix. (Failures are logged once per
/// run of them, not 50 times a second.)
fn mixing_feed(mixer: Arc<Mutex<Mixer>>, echo_canceller: Option<Arc<AudioProcessor>>) -> AudioFeed {
    let mixing = FailureLog::default();
    let far_end = FailureLog::default();
    Arc::new(move || {
        let frame = lock(&mixer).mix(Instant::now());
        let frame = mixing
            .note(frame, "mixing failed; playing silence")
            .unwrap_or_else(|| vec![0.0; BLOCK_SAMPLES]);
        if let Some(processor) = &echo_canceller {
            far_end.note(
                processor.analyze_playout_frames(&frame),
                "the echo canceller did not take the far end",
            );
        }
        frame
    })
}

/// Logs the first failure of a run of them.
#[derive(Debug, Default)]
struct FailureLog(AtomicBool);

impl FailureLog {
    fn note<T, E: std::fmt::Display>(&self, result: Result<T, E>, what: &str) -> Option<T> {
        match result {
            Ok(value) => {
                self.0.store(false, Ordering::Relaxed);
                Some(value)
            }
            Err(error) => {
                if !self.0.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "{what}");
                }
                None
            }
        }
    }
}
