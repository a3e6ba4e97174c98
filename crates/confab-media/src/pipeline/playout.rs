//! Remote audio → jitter buffers → mixer → far-end tap for the echo canceller → speaker.
//!
//! One playout thread, paced by the sink (the sound card's clock), mixes every voice each
//! 20 ms. Each subscribed audio track has a feeder thread that moves its packets into the
//! mixer as they arrive; the jitter buffers sit between the two clocks.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use confab_rtc::room::{FrameCodec, RemoteTrack};
use tokio::runtime::Handle;

use super::{MediaTask, PipelineError, next_frame, stopped};
use crate::audio::mixer::Mixer;
use crate::audio::processing::AudioProcessor;
use crate::audio::sink::AudioSink;
use crate::audio::voice::VoiceStats;

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
        let shared = mixer.clone();
        let task = MediaTask::spawn("confab-audio-playout", move |stop| {
            while !stopped(&stop) {
                let frame = lock(&shared).mix(Instant::now())?;
                if let Some(processor) = &echo_canceller {
                    processor.analyze_playout_frames(&frame)?;
                }
                sink.play(&frame)?;
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

/// The mixer's lock is only held for a mix or a push; a panic while holding it is a bug, and
/// the mixer's state is still whole (each operation finishes before the next), so go on.
fn lock(mixer: &Mutex<Mixer>) -> MutexGuard<'_, Mixer> {
    mixer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
