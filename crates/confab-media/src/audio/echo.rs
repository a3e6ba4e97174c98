//! A synthetic echo path for tests and benchmarks: what a laptop's microphone hears of its
//! own speaker in a small room — a delay, then a direct path and decaying reflections.

use std::collections::VecDeque;

use crate::audio::tone::SAMPLE_RATE;

/// Taps of a sparse room impulse response: (delay after the path's delay in samples, gain).
#[derive(Debug, Clone)]
pub struct EchoPath {
    delay_samples: usize,
    taps: Vec<(usize, f32)>,
    /// The last samples played, newest at the back; as long as the longest tap needs.
    history: VecDeque<f32>,
}

impl EchoPath {
    /// The small room's delay from playout to capture: device buffers plus the air.
    pub const SMALL_ROOM_DELAY_MS: u32 = 40;

    /// A speaker 30 cm from the microphone in a small room: the direct path at −6 dB, then
    /// 24 reflections over 60 ms decaying by 30 dB (RT60 about 120 ms).
    pub fn small_room() -> Self {
        let per_ms = SAMPLE_RATE as usize / 1000;
        let mut state = 0x2545_f491_u32;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32
        };
        let mut taps = vec![(0, 0.5)];
        for reflection in 1..=24u16 {
            let at_ms = f32::from(reflection) * 2.5;
            let decay = 10f32.powf(-1.5 * at_ms / 60.0);
            let sign = if random() < 0.5 { -1.0 } else { 1.0 };
            let jitter = (random() * per_ms as f32) as usize;
            taps.push((
                (at_ms as usize) * per_ms + jitter,
                sign * 0.25 * decay * (0.5 + random()),
            ));
        }
        Self::new(Self::SMALL_ROOM_DELAY_MS, taps)
    }

    pub fn new(delay_ms: u32, taps: Vec<(usize, f32)>) -> Self {
        let delay_samples = delay_ms as usize * SAMPLE_RATE as usize / 1000;
        let longest = taps.iter().map(|&(at, _)| at).max().unwrap_or(0);
        Self {
            delay_samples,
            taps,
            history: VecDeque::from(vec![0.0; delay_samples + longest + 1]),
        }
    }

    /// What the microphone hears of `played` (continuing from the previous call).
    pub fn apply(&mut self, played: &[f32]) -> Vec<f32> {
        played
            .iter()
            .map(|&sample| {
                self.history.pop_front();
                self.history.push_back(sample);
                let newest = self.history.len() - 1;
                self.taps
                    .iter()
                    .map(|&(at, gain)| gain * self.history[newest - self.delay_samples - at])
                    .sum()
            })
            .collect()
    }
}

/// Echo return loss enhancement in dB: how much quieter `after` is than `before`.
pub fn erle_db(before: &[f32], after: &[f32]) -> f64 {
    let energy = |samples: &[f32]| -> f64 {
        samples
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            + 1e-12
    };
    10.0 * (energy(before) / energy(after)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impulse_comes_back_after_the_delay_through_every_tap() {
        let mut path = EchoPath::new(1, vec![(0, 0.5), (3, -0.25)]);
        let mut played = vec![0.0; 60];
        played[0] = 1.0;
        let heard = path.apply(&played);
        // 1 ms at 48 kHz is 48 samples.
        assert_eq!(heard[48], 0.5);
        assert_eq!(heard[51], -0.25);
        let rest: f32 = heard.iter().map(|s| s.abs()).sum();
        assert!((rest - 0.75).abs() < 1e-6);
    }

    #[test]
    fn erle_is_the_energy_ratio_in_db() {
        assert!((erle_db(&[1.0; 100], &[0.1; 100]) - 20.0).abs() < 1e-6);
        assert!(erle_db(&[0.5; 10], &[0.5; 10]).abs() < 1e-6);
    }
}
