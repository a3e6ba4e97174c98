//! Where microphone audio comes from: a device, a file, or a tone, behind one trait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audio::opus::FRAME_SAMPLES;
use crate::audio::processing::AudioProcessor;
use crate::audio::tone::Tone;
use crate::video::source::CaptureError;

/// A source of 48 kHz mono audio in 20 ms frames. `capture` blocks until the next frame is
/// ready, as a device does.
pub trait AudioSource: Send {
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError>;
}

const FRAME: Duration = Duration::from_millis(20);

/// A synthetic source's sound card: one 20 ms frame due after another from the start. The
/// sleep until a frame is due is the device's clock, not a wait for another part of the
/// program.
#[derive(Debug)]
struct FrameClock {
    started: Instant,
    frames: u32,
}

impl FrameClock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            frames: 0,
        }
    }

    fn wait_for_next(&mut self) {
        let due = self.started + FRAME * self.frames;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        self.frames += 1;
    }
}

/// A tone delivered in real time: the synthetic microphone.
#[derive(Debug)]
pub struct ToneSource {
    tone: Tone,
    clock: FrameClock,
}

impl ToneSource {
    pub fn new(frequency: f64, amplitude: f32) -> Self {
        Self {
            tone: Tone::new(frequency, amplitude),
            clock: FrameClock::new(),
        }
    }
}

impl AudioSource for ToneSource {
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError> {
        self.clock.wait_for_next();
        Ok(self.tone.next_frame())
    }
}

/// A recording played over and over in real time: the file microphone (a voice for tests
/// and demos, speaking as a person would into a real one).
#[derive(Debug)]
pub struct ClipSource {
    /// 48 kHz mono.
    samples: Arc<[f32]>,
    position: usize,
    clock: FrameClock,
}

impl ClipSource {
    /// `samples` at 48 kHz mono; an empty clip is silence.
    pub fn new(samples: impl Into<Arc<[f32]>>) -> Self {
        Self {
            samples: samples.into(),
            position: 0,
            clock: FrameClock::new(),
        }
    }

    /// The next 20 ms of the clip, wrapping round at its end.
    fn next_frame(&mut self) -> Vec<f32> {
        if self.samples.is_empty() {
            return vec![0.0; FRAME_SAMPLES];
        }
        let mut frame = Vec::with_capacity(FRAME_SAMPLES);
        while frame.len() < FRAME_SAMPLES {
            let take = (FRAME_SAMPLES - frame.len()).min(self.samples.len() - self.position);
            frame.extend_from_slice(&self.samples[self.position..self.position + take]);
            self.position = (self.position + take) % self.samples.len();
        }
        frame
    }
}

impl AudioSource for ClipSource {
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError> {
        self.clock.wait_for_next();
        Ok(self.next_frame())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_plays_on_across_its_end_from_its_start() {
        // 1.5 frames long: the second frame is its second half, then its beginning again.
        let clip: Vec<f32> = (0..FRAME_SAMPLES * 3 / 2).map(|n| n as f32).collect();
        let mut source = ClipSource::new(clip.clone());
        assert_eq!(source.next_frame(), clip[..FRAME_SAMPLES]);
        let second = source.next_frame();
        assert_eq!(second[..FRAME_SAMPLES / 2], clip[FRAME_SAMPLES..]);
        assert_eq!(second[FRAME_SAMPLES / 2..], clip[..FRAME_SAMPLES / 2]);
        // A clip shorter than a frame repeats within one.
        let mut short = ClipSource::new(vec![1.0, 2.0]);
        assert!(short.next_frame().chunks(2).all(|pair| pair == [1.0, 2.0]));
    }

    #[test]
    fn an_empty_clip_is_silence() {
        let mut source = ClipSource::new(Vec::new());
        assert_eq!(source.capture().expect("frame"), vec![0.0; FRAME_SAMPLES]);
    }
}
