//! Mixes every remote voice into the one stream the speaker plays, with each participant's
//! volume and local mute, and a soft limiter so several loud talkers never clip.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::audio::opus::OpusError;
use crate::audio::voice::{BLOCK_SAMPLES, RemoteVoice, VoiceStats};

/// Where the limiter starts to bend the signal.
const LIMITER_KNEE: f32 = 0.8;
/// The loudest a participant can be turned up.
pub const MAX_VOLUME: f32 = 2.0;

#[derive(Debug)]
struct MixedVoice {
    voice: RemoteVoice,
    volume: f32,
    muted: bool,
}

/// Voices by a key the caller chooses (a track sid).
#[derive(Debug, Default)]
pub struct Mixer {
    voices: BTreeMap<String, MixedVoice>,
}

impl Mixer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, key: &str) -> Result<(), OpusError> {
        if !self.voices.contains_key(key) {
            let voice = MixedVoice {
                voice: RemoteVoice::new()?,
                volume: 1.0,
                muted: false,
            };
            self.voices.insert(key.to_owned(), voice);
        }
        Ok(())
    }

    pub fn remove(&mut self, key: &str) {
        self.voices.remove(key);
    }

    /// `volume` from 0 (silent) to [`MAX_VOLUME`]; 1 is as sent.
    pub fn set_volume(&mut self, key: &str, volume: f32) {
        if let Some(voice) = self.voices.get_mut(key) {
            voice.volume = volume.clamp(0.0, MAX_VOLUME);
        }
    }

    /// Mutes a participant here only (they still talk to everyone else).
    pub fn set_muted(&mut self, key: &str, muted: bool) {
        if let Some(voice) = self.voices.get_mut(key) {
            voice.muted = muted;
        }
    }

    /// A packet for `key`'s voice; packets for voices not added are ignored.
    pub fn push(&mut self, key: &str, rtp_time: u64, packet: Vec<u8>, arrival: Instant) {
        if let Some(voice) = self.voices.get_mut(key) {
            voice.voice.push(rtp_time, packet, arrival);
        }
    }

    /// The next 10 ms of the mix. Muted voices are still decoded, so unmuting them resumes
    /// in step instead of replaying old audio.
    pub fn mix(&mut self, now: Instant) -> Result<Vec<f32>, OpusError> {
        let mut mix = vec![0.0f32; BLOCK_SAMPLES];
        for voice in self.voices.values_mut() {
            let frame = voice.voice.next_block(now)?;
            if voice.muted || voice.volume == 0.0 {
                continue;
            }
            for (out, sample) in mix.iter_mut().zip(frame) {
                *out += sample * voice.volume;
            }
        }
        mix.iter_mut().for_each(|sample| *sample = limit(*sample));
        Ok(mix)
    }

    pub fn stats(&self, key: &str) -> Option<VoiceStats> {
        self.voices.get(key).map(|voice| voice.voice.stats())
    }
}

/// Identity below the knee, then a tanh curve that approaches full scale (and never passes it).
fn limit(sample: f32) -> f32 {
    let magnitude = sample.abs();
    if magnitude <= LIMITER_KNEE {
        return sample;
    }
    let headroom = 1.0 - LIMITER_KNEE;
    sample.signum() * (LIMITER_KNEE + headroom * ((magnitude - LIMITER_KNEE) / headroom).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::{rms, tone_share};
    use crate::audio::opus::{FRAME_DURATION, FRAME_SAMPLES, OpusEncoder, OpusSettings};
    use crate::audio::tone::Tone;

    struct Talker {
        key: &'static str,
        tone: Tone,
        encoder: OpusEncoder,
    }

    fn talk(mixer: &mut Mixer, talkers: &mut [Talker], frames: u32) -> Vec<f32> {
        let start = Instant::now();
        let mut out = Vec::new();
        for frame in 0..frames {
            let now = start + FRAME_DURATION * frame;
            for talker in talkers.iter_mut() {
                let packet = talker
                    .encoder
                    .encode(&talker.tone.next_frame())
                    .expect("encode");
                mixer.push(talker.key, u64::from(frame) * 960, packet, now);
            }
            // Two 10 ms blocks of the mix a frame.
            out.extend(mixer.mix(now).expect("mix"));
            out.extend(mixer.mix(now + FRAME_DURATION / 2).expect("mix"));
        }
        out.split_off(FRAME_SAMPLES * 20)
    }

    fn talkers() -> Vec<Talker> {
        [("alice", 300.0), ("bob", 700.0)]
            .into_iter()
            .map(|(key, hz)| Talker {
                key,
                tone: Tone::new(hz, 0.3),
                encoder: OpusEncoder::new(OpusSettings::default()).expect("encoder"),
            })
            .collect()
    }

    #[test]
    fn both_voices_are_heard_and_a_muted_one_is_not() {
        let mut mixer = Mixer::new();
        let mut talkers = talkers();
        mixer.add("alice").expect("add");
        mixer.add("bob").expect("add");
        let both = talk(&mut mixer, &mut talkers, 100);
        assert!(tone_share(&both, 300.0) > 0.3);
        assert!(tone_share(&both, 700.0) > 0.3);
        mixer.set_muted("bob", true);
        let alice_only = talk(&mut mixer, &mut talkers, 100);
        assert!(tone_share(&alice_only, 300.0) > 0.8);
        assert!(tone_share(&alice_only, 700.0) < 0.02);
    }

    #[test]
    fn volume_scales_a_voice() {
        let mut mixer = Mixer::new();
        let mut alice = talkers().into_iter().take(1).collect::<Vec<_>>();
        mixer.add("alice").expect("add");
        let full = rms(&talk(&mut mixer, &mut alice, 60));
        mixer.set_volume("alice", 0.5);
        let half = rms(&talk(&mut mixer, &mut alice, 60));
        assert!((half / full - 0.5).abs() < 0.05, "{half} vs {full}");
    }

    #[test]
    fn the_limiter_keeps_loud_mixes_below_full_scale() {
        assert_eq!(limit(0.5), 0.5);
        assert_eq!(limit(-0.8), -0.8);
        assert!(limit(3.0) <= 1.0 && limit(3.0) > 0.95);
        assert!(limit(1.0) < 1.0 && limit(1.0) > 0.9);
        assert!(limit(-30.0) >= -1.0);
        assert!(limit(0.9) > limit(0.85));
    }
}
