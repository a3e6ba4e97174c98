//! The PCM shapes the audio path works in.

use std::time::Duration;

/// An interleaved PCM stream's sample rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioFormat {
    /// What audio processing and Opus run on: 48 kHz mono.
    pub const PROCESSING: Self = Self {
        sample_rate: 48_000,
        channels: 1,
    };

    /// Echo cancellation consumes 10 ms frames.
    pub const PROCESSING_FRAME: Duration = Duration::from_millis(10);

    /// Samples per channel in a frame of `duration`, or `None` when the duration is not a whole
    /// number of samples at this rate (a pipeline bug: frames must tile time exactly).
    pub fn samples_per_channel(&self, duration: Duration) -> Option<usize> {
        let scaled = u128::from(self.sample_rate) * duration.as_nanos();
        if !scaled.is_multiple_of(1_000_000_000) {
            return None;
        }
        usize::try_from(scaled / 1_000_000_000).ok()
    }

    /// Interleaved samples (all channels) in a frame of `duration`.
    pub fn interleaved_samples(&self, duration: Duration) -> Option<usize> {
        self.samples_per_channel(duration)?
            .checked_mul(usize::from(self.channels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_frames_are_480_mono_samples() {
        let format = AudioFormat::PROCESSING;
        assert_eq!(
            format.samples_per_channel(AudioFormat::PROCESSING_FRAME),
            Some(480)
        );
        assert_eq!(
            format.interleaved_samples(Duration::from_millis(20)),
            Some(960)
        );
    }

    #[test]
    fn common_device_rates_tile_ten_millisecond_frames() {
        for (rate, expected) in [(44_100, 441), (16_000, 160), (96_000, 960)] {
            let stereo = AudioFormat {
                sample_rate: rate,
                channels: 2,
            };
            assert_eq!(
                stereo.interleaved_samples(Duration::from_millis(10)),
                Some(expected * 2)
            );
        }
    }

    #[test]
    fn rejects_durations_that_are_not_whole_samples() {
        let cd = AudioFormat {
            sample_rate: 44_100,
            channels: 2,
        };
        assert_eq!(cd.samples_per_channel(Duration::from_micros(100)), None);
        assert_eq!(cd.samples_per_channel(Duration::from_millis(20)), Some(882));
    }
}
