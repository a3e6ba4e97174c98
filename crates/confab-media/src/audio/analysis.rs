//! Measuring received audio: loudness and how much of it is one tone.

use std::f64::consts::TAU;

use crate::audio::tone::SAMPLE_RATE;

/// Root mean square of `samples` (full scale = 1).
pub fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The level the RTP audio-level extension carries: −dBov, 0 (loudest) to 127 (silence).
pub fn audio_level(samples: &[f32]) -> u8 {
    let level = rms(samples);
    if level <= 1e-7 {
        return 127;
    }
    (-20.0 * level.log10()).clamp(0.0, 127.0).round() as u8
}

/// The share (0 to 1) of `samples`' energy that lies at `frequency` (Goertzel).
pub fn tone_share(samples: &[f32], frequency: f64) -> f64 {
    let total: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    if total <= f64::EPSILON {
        return 0.0;
    }
    let n = samples.len() as f64;
    let coefficient = 2.0 * (TAU * frequency / f64::from(SAMPLE_RATE)).cos();
    let (mut previous, mut before) = (0.0f64, 0.0f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    let power = previous * previous + before * before - coefficient * previous * before;
    // A full-scale sine of energy E puts |X|² = E·N/2 into its bin.
    (2.0 * power / (n * total)).min(1.0)
}

/// The strongest frequency between 50 Hz and 4 kHz, to 5 Hz: what a tone test reports.
pub fn dominant_frequency(samples: &[f32]) -> Option<f64> {
    if rms(samples) < 1e-4 {
        return None;
    }
    (10..=800)
        .map(|step| f64::from(step) * 5.0)
        .map(|frequency| (frequency, tone_share(samples, frequency)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(frequency, _)| frequency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::tone::Tone;

    #[test]
    fn a_pure_tone_is_all_at_its_frequency() {
        let mut tone = Tone::new(440.0, 0.3);
        let samples: Vec<f32> = (0..25).flat_map(|_| tone.next_frame()).collect();
        assert!(tone_share(&samples, 440.0) > 0.95);
        assert!(tone_share(&samples, 880.0) < 0.01);
        assert_eq!(dominant_frequency(&samples), Some(440.0));
        assert!((rms(&samples) - 0.3 / 2f64.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn silence_has_no_tone_and_the_lowest_level() {
        let silence = vec![0.0f32; 4800];
        assert_eq!(tone_share(&silence, 440.0), 0.0);
        assert_eq!(dominant_frequency(&silence), None);
        assert_eq!(audio_level(&silence), 127);
        assert_eq!(audio_level(&[1.0, -1.0]), 0);
        let mut tone = Tone::new(440.0, 0.1);
        // A 0.1 sine is about −23 dBov.
        assert_eq!(audio_level(&tone.next_frame()), 23);
    }
}
