//! Where the mix goes: a speaker, or a clocked collector, behind one trait.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::audio::opus::FRAME_DURATION;
use crate::video::source::CaptureError;

/// A consumer of 48 kHz mono audio in 20 ms frames. `play` blocks until the device has room
/// for the frame, so the sink's clock paces the playout.
pub trait AudioSink: Send {
    fn play(&mut self, frame: &[f32]) -> Result<(), CaptureError>;
}

/// A sink with a sound card's pace but no sound card: it takes a frame every 20 ms and hands
/// what it played to `played` (for tests, `confab join` without a speaker, and benchmarks).
#[derive(Debug)]
pub struct ClockedSink {
    started: Option<Instant>,
    frames: u32,
    played: mpsc::UnboundedSender<Vec<f32>>,
}

impl ClockedSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Vec<f32>>) {
        let (played, receiver) = mpsc::unbounded_channel();
        let sink = Self {
            started: None,
            frames: 0,
            played,
        };
        (sink, receiver)
    }
}

impl AudioSink for ClockedSink {
    fn play(&mut self, frame: &[f32]) -> Result<(), CaptureError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started + FRAME_DURATION * self.frames;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            // This sleep *is* the device clock being simulated.
            std::thread::sleep(wait.min(Duration::from_millis(100)));
        }
        self.frames += 1;
        self.played
            .send(frame.to_vec())
            .map_err(|_| CaptureError::Gone("nobody listens to this sink".into()))
    }
}
