//! A sine tone in 20 ms frames: the synthetic microphone.

use std::f64::consts::TAU;

use crate::audio::opus::FRAME_SAMPLES;

pub const SAMPLE_RATE: u32 = 48_000;

#[derive(Debug, Clone)]
pub struct Tone {
    frequency: f64,
    amplitude: f32,
    /// Samples produced so far; the phase is computed from it, so it never drifts.
    position: u64,
}

impl Tone {
    /// `amplitude` in [0, 1] of full scale.
    pub fn new(frequency: f64, amplitude: f32) -> Self {
        Self {
            frequency,
            amplitude,
            position: 0,
        }
    }

    pub fn next_frame(&mut self) -> Vec<f32> {
        let start = self.position;
        self.position += FRAME_SAMPLES as u64;
        (start..self.position)
            .map(|n| {
                let phase = TAU * self.frequency * (n as f64) / f64::from(SAMPLE_RATE);
                self.amplitude * phase.sin() as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_continuous_and_at_the_amplitude() {
        let mut tone = Tone::new(1000.0, 0.5);
        let first = tone.next_frame();
        let second = tone.next_frame();
        assert_eq!(first.len(), FRAME_SAMPLES);
        // 1 kHz at 48 kHz repeats every 48 samples, and 960 is a multiple of 48.
        assert!(first.iter().zip(&second).all(|(a, b)| (a - b).abs() < 1e-4));
        let peak = first.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 1e-3);
    }
}
