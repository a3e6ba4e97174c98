//! One remote voice on its way to the speaker: its jitter buffer and its Opus decoder, giving
//! 20 ms of audio whenever the playout clock asks, whatever the network did.

use std::time::Instant;

use crate::audio::analysis::rms;
use crate::audio::jitter::{JitterBuffer, JitterStats, Playout};
use crate::audio::opus::{FRAME_SAMPLES, OpusDecoder, OpusError};

/// Decoded audio below this (about -46 dBFS) is a pause: where the jitter buffer prefers to
/// skip a frame when it shrinks.
const QUIET_RMS: f64 = 0.005;

#[derive(Debug)]
pub struct RemoteVoice {
    buffer: JitterBuffer,
    decoder: OpusDecoder,
    /// Corrupt packets, concealed in their place.
    undecodable: u64,
    /// The last frame was rebuilt or concealed rather than decoded from its own packet.
    last_concealed: bool,
}

impl RemoteVoice {
    pub fn new() -> Result<Self, OpusError> {
        Ok(Self {
            buffer: JitterBuffer::new(),
            decoder: OpusDecoder::new()?,
            undecodable: 0,
            last_concealed: false,
        })
    }

    /// An Opus packet stamped `rtp_time` (48 kHz) arrived at `arrival`.
    pub fn push(&mut self, rtp_time: u64, packet: Vec<u8>, arrival: Instant) {
        self.buffer.push(rtp_time, packet, arrival);
    }

    /// The next 20 ms of this voice (48 kHz mono).
    pub fn next_frame(&mut self, now: Instant) -> Result<Vec<f32>, OpusError> {
        self.last_concealed = true;
        let decoded = match self.buffer.pop(now) {
            Playout::Packet(packet) => match self.decoder.decode(&packet) {
                Ok(samples) => {
                    self.last_concealed = false;
                    if rms(&samples) < QUIET_RMS {
                        self.buffer.played_quiet();
                    }
                    Ok(samples)
                }
                Err(error) => {
                    self.undecodable += 1;
                    tracing::debug!(%error, "audio packet not decodable; concealed");
                    self.decoder.conceal(None)
                }
            },
            Playout::Fec(following) => self.decoder.conceal(Some(&following)),
            Playout::Conceal => self.decoder.conceal(None),
            Playout::Silence => return Ok(vec![0.0; FRAME_SAMPLES]),
        }?;
        Ok(fit_frame(decoded))
    }

    /// Whether the last frame was rebuilt (FEC) or concealed instead of decoded.
    pub fn last_was_concealed(&self) -> bool {
        self.last_concealed
    }

    /// The frame number (RTP time / 960) the last frame played or stood in for.
    pub fn last_frame(&self) -> Option<u64> {
        self.buffer.last_frame()
    }

    pub fn stats(&self) -> VoiceStats {
        VoiceStats {
            jitter: self.buffer.stats(),
            undecodable: self.undecodable,
            target_delay: self.buffer.target_delay(),
            last_wait: self.buffer.last_wait(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceStats {
    pub jitter: JitterStats,
    pub undecodable: u64,
    pub target_delay: std::time::Duration,
    /// How long the last packet played had waited in the jitter buffer.
    pub last_wait: Option<std::time::Duration>,
}

/// Packets of other lengths (10 or 40 ms from another sender) are cut or padded to 20 ms, so
/// the mix never changes pace.
fn fit_frame(mut samples: Vec<f32>) -> Vec<f32> {
    samples.resize(FRAME_SAMPLES, 0.0);
    samples
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audio::analysis::tone_share;
    use crate::audio::opus::{FRAME_DURATION, OpusEncoder, OpusSettings};
    use crate::audio::tone::Tone;

    /// 10 % of packets lost at random (fixed seed): FEC and concealment keep the tone whole
    /// and the playout never skips a beat.
    #[test]
    fn a_tone_survives_ten_percent_loss() {
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut voice = RemoteVoice::new().expect("voice");
        let mut tone = Tone::new(440.0, 0.3);
        let mut state = 99u32;
        let start = Instant::now();
        let mut played = Vec::new();
        for frame in 0..500u32 {
            let packet = encoder.encode(&tone.next_frame()).expect("encode");
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let lost = (state >> 16) % 100 < 10;
            let now = start + FRAME_DURATION * frame;
            if !lost {
                voice.push(u64::from(frame) * FRAME_SAMPLES as u64, packet, now);
            }
            let out = voice
                .next_frame(now + Duration::from_millis(1))
                .expect("frame");
            assert_eq!(out.len(), FRAME_SAMPLES);
            played.extend(out);
        }
        let stats = voice.stats().jitter;
        assert!(stats.rebuilt_from_fec + stats.concealed >= 30, "{stats:?}");
        let settled = &played[FRAME_SAMPLES * 20..];
        let share = tone_share(settled, 440.0);
        assert!(share > 0.8, "440 Hz share {share:.2}, {stats:?}");
    }

    #[test]
    fn garbage_is_concealed_not_an_error() {
        let mut voice = RemoteVoice::new().expect("voice");
        let start = Instant::now();
        for frame in 0..10u32 {
            let at = start + FRAME_DURATION * frame;
            voice.push(u64::from(frame) * 960, vec![0xff, 0xff, 0xff], at);
            assert_eq!(voice.next_frame(at).expect("frame").len(), FRAME_SAMPLES);
        }
        assert!(voice.stats().undecodable > 0);
    }
}
