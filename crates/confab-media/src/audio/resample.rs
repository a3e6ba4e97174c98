//! Sample-rate conversion between a device's rate and the 48 kHz everything else runs at
//! (rubato's FFT resampler: fixed chunks in and out, band-limited, no drift).

use std::collections::VecDeque;

use rubato::{FftFixedInOut, Resampler as _};

#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample {from} Hz to {to} Hz: {reason}")]
    Setup { from: u32, to: u32, reason: String },
    #[error("resampling failed: {0}")]
    Process(String),
}

/// Mono samples in at one rate, out at another, in whatever amounts each side likes.
pub struct Resampler {
    /// `None` when both rates are the same: samples pass through.
    fft: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    ready: VecDeque<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("passthrough", &self.fft.is_none())
            .field("ready", &self.ready.len())
            .finish()
    }
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let fft = if from == to {
            None
        } else {
            // 10 ms chunks: short enough for the latency budget, long enough for the FFT.
            let chunk = (from as usize / 100).max(1);
            let fft = FftFixedInOut::new(from as usize, to as usize, chunk, 1).map_err(|e| {
                ResampleError::Setup {
                    from,
                    to,
                    reason: e.to_string(),
                }
            })?;
            Some(fft)
        };
        Ok(Self {
            fft,
            pending: Vec::new(),
            ready: VecDeque::new(),
        })
    }

    pub fn push(&mut self, samples: &[f32]) -> Result<(), ResampleError> {
        let Some(fft) = &mut self.fft else {
            self.ready.extend(samples);
            return Ok(());
        };
        self.pending.extend_from_slice(samples);
        let chunk = fft.input_frames_next();
        let mut start = 0;
        while self.pending.len() - start >= chunk {
            let output = fft
                .process(&[&self.pending[start..start + chunk]], None)
                .map_err(|e| ResampleError::Process(e.to_string()))?;
            if let Some(channel) = output.first() {
                self.ready.extend(channel);
            }
            start += chunk;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Exactly `count` samples, once that many are ready.
    pub fn pull(&mut self, count: usize) -> Option<Vec<f32>> {
        (self.ready.len() >= count).then(|| self.ready.drain(..count).collect())
    }

    pub fn ready(&self) -> usize {
        self.ready.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::{dominant_frequency, tone_share};

    fn sine(rate: u32, hz: f64, seconds: f64) -> Vec<f32> {
        (0..(f64::from(rate) * seconds) as usize)
            .map(|n| (0.5 * (std::f64::consts::TAU * hz * n as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    #[test]
    fn a_tone_keeps_its_pitch_from_44100_to_48000() {
        let mut resampler = Resampler::new(44_100, 48_000).expect("resampler");
        // Pushed in odd sizes, as a device callback delivers.
        for piece in sine(44_100, 1000.0, 1.0).chunks(333) {
            resampler.push(piece).expect("push");
        }
        let out = resampler.pull(resampler.ready()).expect("samples");
        // One second in is (nearly) one second out: no drift.
        assert!((47_000..=48_000).contains(&out.len()), "{}", out.len());
        let settled = &out[4800..];
        assert_eq!(dominant_frequency(settled), Some(1000.0));
        assert!(tone_share(settled, 1000.0) > 0.95);
    }

    #[test]
    fn the_same_rate_passes_through() {
        let mut resampler = Resampler::new(48_000, 48_000).expect("resampler");
        resampler.push(&[0.1, 0.2, 0.3]).expect("push");
        assert_eq!(resampler.pull(4), None);
        assert_eq!(resampler.pull(3), Some(vec![0.1, 0.2, 0.3]));
    }

    #[test]
    fn down_to_16000_and_back() {
        let mut down = Resampler::new(48_000, 16_000).expect("resampler");
        down.push(&sine(48_000, 440.0, 0.5)).expect("push");
        let low = down.pull(down.ready()).expect("samples");
        let mut up = Resampler::new(16_000, 48_000).expect("resampler");
        up.push(&low).expect("push");
        let back = up.pull(up.ready()).expect("samples");
        assert_eq!(dominant_frequency(&back[4800..]), Some(440.0));
    }
}
