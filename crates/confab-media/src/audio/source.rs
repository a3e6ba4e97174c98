//! Where microphone audio comes from: a device, a file, or a tone, behind one trait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audio::processing::AudioProcessor;
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

/// A microphone with voice processing: every frame goes through the echo canceller, noise
/// suppression and gain control before it is encoded.
#[derive(Debug)]
pub struct ProcessedSource<S> {
    microphone: S,
    processor: Arc<AudioProcessor>,
}

impl<S: AudioSource> ProcessedSource<S> {
    /// `processor` is shared with the playout, which shows it the far end.
    pub fn new(microphone: S, processor: Arc<AudioProcessor>) -> Self {
        Self {
            microphone,
            processor,
        }
    }
}

impl<S: AudioSource> AudioSource for ProcessedSource<S> {
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError> {
        let mut frame = self.microphone.capture()?;
        self.processor
            .process_capture_frames(&mut frame)
            .map_err(|error| CaptureError::Failed(error.to_string()))?;
        Ok(frame)
    }
}
