//! Capture-side voice processing: WebRTC's audio processing module (the one libwebrtc and so
//! every LiveKit SDK runs) with AEC3 echo cancellation, noise suppression, AGC2 and the
//! high-pass filter.
//!
//! The echo canceller needs the far end: every 10 ms of what we actually play goes through
//! [`AudioProcessor::analyze_playout`], and every 10 ms of microphone through
//! [`AudioProcessor::process_capture`]. The two are called from different threads (the
//! playout and the capture device), which the module allows: it locks internally.

use std::sync::Mutex;

use webrtc_audio_processing::Processor;
use webrtc_audio_processing::config::{
    AdaptiveDigital, Config, EchoCanceller, GainController, GainController2, HighPassFilter,
    NoiseSuppression, NoiseSuppressionLevel,
};

use crate::audio::tone::SAMPLE_RATE;
use crate::sync::lock;

/// The module works on 10 ms frames: 480 samples at 48 kHz.
pub const PROCESSING_FRAME_SAMPLES: usize = SAMPLE_RATE as usize / 100;

#[derive(Debug, thiserror::Error)]
pub enum ProcessingError {
    #[error("audio processing: {0}")]
    Module(#[from] webrtc_audio_processing::Error),
    #[error("audio processing works on {PROCESSING_FRAME_SAMPLES}-sample frames, got {0}")]
    FrameSize(usize),
}

/// Which stages run. All on by default, as in every LiveKit SDK; a user may turn noise
/// suppression off for music, or echo cancellation off with a headset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
    pub auto_gain: bool,
    pub high_pass: bool,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self::ALL
    }
}

impl ProcessingSettings {
    pub const ALL: Self = Self {
        echo_cancellation: true,
        noise_suppression: true,
        auto_gain: true,
        high_pass: true,
    };
    pub const NONE: Self = Self {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: false,
        high_pass: false,
    };

    fn module_config(self) -> Config {
        Config {
            high_pass_filter: self.high_pass.then(HighPassFilter::default),
            // AEC3 with its own delay estimation: the delay between playout and capture
            // depends on the devices and is not known here.
            echo_canceller: self.echo_cancellation.then_some(EchoCanceller::Full {
                stream_delay_ms: None,
            }),
            noise_suppression: self.noise_suppression.then_some(NoiseSuppression {
                level: NoiseSuppressionLevel::High,
                analyze_linear_aec_output: false,
            }),
            gain_controller: self.auto_gain.then(|| {
                GainController::GainController2(GainController2 {
                    adaptive_digital: Some(AdaptiveDigital::default()),
                    ..GainController2::default()
                })
            }),
            ..Config::default()
        }
    }
}

/// What the echo canceller reports about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessingStats {
    /// The linear echo filter's own ERLE estimate in dB (before the suppressor, which removes
    /// much more; measure the output for what the canceller achieves).
    pub erle_db: Option<f64>,
    /// The delay between playout and capture the canceller estimated.
    pub echo_delay_ms: Option<u32>,
}

/// One audio processing module for one microphone and the speaker it hears.
#[derive(Debug)]
pub struct AudioProcessor {
    module: Processor,
    /// Changed from the UI while the microphone and the speaker threads use the module.
    settings: Mutex<ProcessingSettings>,
}

impl AudioProcessor {
    pub fn new(settings: ProcessingSettings) -> Result<Self, ProcessingError> {
        let module = Processor::new(SAMPLE_RATE)?;
        module.set_config(settings.module_config());
        Ok(Self {
            module,
            settings: Mutex::new(settings),
        })
    }

    pub fn settings(&self) -> ProcessingSettings {
        *lock(&self.settings)
    }

    /// Changes stages while audio flows (a person turning echo cancellation off for a
    /// headset); only the stages that changed restart.
    pub fn set_settings(&self, settings: ProcessingSettings) {
        let mut current = lock(&self.settings);
        *current = settings;
        self.module.set_config(settings.module_config());
    }

    /// Shows the echo canceller 10 ms of what is being played (the far end).
    pub fn analyze_playout(&self, frame: &[f32]) -> Result<(), ProcessingError> {
        check_frame(frame.len())?;
        self.module.analyze_render_frame([frame])?;
        Ok(())
    }

    /// Processes 10 ms of microphone in place.
    pub fn process_capture(&self, frame: &mut [f32]) -> Result<(), ProcessingError> {
        check_frame(frame.len())?;
        self.module.process_capture_frame([frame])?;
        Ok(())
    }

    /// Processes a frame of whole 10 ms frames (a 20 ms Opus frame is two) in place.
    pub fn process_capture_frames(&self, samples: &mut [f32]) -> Result<(), ProcessingError> {
        if !samples.len().is_multiple_of(PROCESSING_FRAME_SAMPLES) {
            return Err(ProcessingError::FrameSize(samples.len()));
        }
        samples
            .chunks_exact_mut(PROCESSING_FRAME_SAMPLES)
            .try_for_each(|frame| self.process_capture(frame))
    }

    /// Shows the canceller whole 10 ms frames of playout.
    pub fn analyze_playout_frames(&self, samples: &[f32]) -> Result<(), ProcessingError> {
        if !samples.len().is_multiple_of(PROCESSING_FRAME_SAMPLES) {
            return Err(ProcessingError::FrameSize(samples.len()));
        }
        samples
            .chunks_exact(PROCESSING_FRAME_SAMPLES)
            .try_for_each(|frame| self.analyze_playout(frame))
    }

    /// Tells the canceller and the gain control that nothing is being played (e.g. the
    /// speaker is muted), so they do not adapt to silence.
    pub fn set_playout_muted(&self, muted: bool) {
        self.module.set_output_will_be_muted(muted);
    }

    pub fn stats(&self) -> ProcessingStats {
        let stats = self.module.get_stats();
        ProcessingStats {
            erle_db: stats.echo_return_loss_enhancement,
            echo_delay_ms: stats.delay_ms,
        }
    }
}

/// The module panics on a wrong frame length; this checks first.
fn check_frame(length: usize) -> Result<(), ProcessingError> {
    if length == PROCESSING_FRAME_SAMPLES {
        Ok(())
    } else {
        Err(ProcessingError::FrameSize(length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::rms;
    use crate::audio::echo::{EchoPath, erle_db};
    use crate::audio::tone::Tone;

    /// White-ish noise from a fixed seed (a linear congruential generator is enough here).
    fn noise(seed: u32, amplitude: f32) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state as f32 / u32::MAX as f32 * 2.0 - 1.0) * amplitude
        }
    }

    #[test]
    fn frames_of_the_wrong_length_are_errors_not_panics() {
        let processor = AudioProcessor::new(ProcessingSettings::ALL).expect("module");
        assert!(matches!(
            processor.process_capture(&mut [0.0; 960]),
            Err(ProcessingError::FrameSize(960))
        ));
        assert!(matches!(
            processor.analyze_playout(&[0.0; 10]),
            Err(ProcessingError::FrameSize(10))
        ));
        assert!(matches!(
            processor.process_capture_frames(&mut [0.0; 500]),
            Err(ProcessingError::FrameSize(500))
        ));
        assert!(processor.process_capture_frames(&mut [0.0; 960]).is_ok());
    }

    /// Far-end noise played out comes back through a room; the canceller learns the path
    /// and removes most of it. Without processing nothing is removed.
    #[test]
    fn the_echo_of_what_is_played_is_cancelled() {
        let run = |settings: ProcessingSettings| {
            let processor = AudioProcessor::new(settings).expect("module");
            let mut far = noise(7, 0.3);
            let mut room = EchoPath::small_room();
            let (mut heard, mut sent) = (Vec::new(), Vec::new());
            for _ in 0..800 {
                let played: Vec<f32> = (0..PROCESSING_FRAME_SAMPLES).map(|_| far()).collect();
                processor.analyze_playout(&played).expect("far end");
                let mut mic = room.apply(&played);
                heard.extend_from_slice(&mic);
                processor.process_capture(&mut mic).expect("capture");
                sent.extend_from_slice(&mic);
            }
            // The last 4 s, after the canceller has converged.
            let settled = heard.len() - 4 * SAMPLE_RATE as usize;
            (
                erle_db(&heard[settled..], &sent[settled..]),
                processor.stats(),
            )
        };
        let (none, _) = run(ProcessingSettings::NONE);
        assert!(
            none.abs() < 0.5,
            "no processing removes nothing: {none:.1} dB"
        );
        let (cancelled, stats) = run(ProcessingSettings {
            auto_gain: false,
            ..ProcessingSettings::ALL
        });
        assert!(cancelled > 20.0, "ERLE {cancelled:.1} dB");
        // The module found the echo (its own delay and ERLE figures are about its internal
        // alignment and linear filter, not the room, so only their presence is checked).
        assert!(stats.echo_delay_ms.is_some(), "{stats:?}");
        assert!(stats.erle_db.is_some(), "{stats:?}");
    }

    /// With nothing played, a near-end tone is the talker, not echo: the canceller lets it
    /// through. (Noise suppression is off here: a steady tone is what it is built to remove.)
    #[test]
    fn near_end_speech_without_far_end_passes() {
        let processor = AudioProcessor::new(ProcessingSettings {
            echo_cancellation: true,
            high_pass: true,
            ..ProcessingSettings::NONE
        })
        .expect("module");
        let mut tone = Tone::new(440.0, 0.3);
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for _ in 0..150 {
            let mut mic = tone.next_frame();
            before.extend_from_slice(&mic);
            processor
                .analyze_playout_frames(&[0.0; 960])
                .expect("far end");
            processor.process_capture_frames(&mut mic).expect("capture");
            after.extend_from_slice(&mic);
        }
        let settled = before.len() / 2;
        let kept = rms(&after[settled..]) / rms(&before[settled..]);
        assert!(kept > 0.5, "the talker kept {kept:.2} of their level");
    }
}
