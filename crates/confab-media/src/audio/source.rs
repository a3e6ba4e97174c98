//! Where microphone audio comes from: a device, a file, or a tone, behind one trait.

use std::time::{Duration, Instant};

use crate::audio::tone::Tone;
use crate::video::source::CaptureError;

/// A source of 48 kHz mono audio in 20 ms frames. `capture` blocks until the next frame is
/// ready, as a device does.
pub trait AudioSource: Send {
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError>;
}

/// A tone delivered in real time: the synthetic microphone.
#[derive(Debug)]
pub struct ToneSource {
    tone: Tone,
    started: Instant,
    frames: u32,
}

const FRAME: Duration = Duration::from_millis(20);

impl ToneSource {
    pub fn new(frequency: f64, amplitude: f32) -> Self {
        Self {
            tone: Tone::new(frequency, amplitude),
            started: Instant::now(),
            frames: 0,
        }
    }
}

impl AudioSource for ToneSource {
    /// Paced by the device's clock (a sleep until the frame is due), like a sound card.
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError> {
        let due = self.started + FRAME * self.frames;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        self.frames += 1;
        Ok(self.tone.next_frame())
    }
}
