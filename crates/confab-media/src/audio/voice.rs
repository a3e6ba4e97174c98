//! One remote voice on its way to the speaker: its jitter buffer and its Opus decoder, giving
//! audio whenever the playout clock asks, whatever the network did: a 20 ms frame at a time,
//! or a 10 ms block at a time for the speaker's clock (so a talk spurt after a pause starts
//! within 10 ms of its first packet, not 20).

use std::time::Instant;

use crate::audio::analysis::rms;
use crate::audio::jitter::{JitterBuffer, JitterStats, Playout};
use crate::audio::opus::{FRAME_SAMPLES, OpusDecoder, OpusError};

/// One tick of the speaker's clock: 10 ms at 48 kHz, half a frame.
pub const BLOCK_SAMPLES: usize = FRAME_SAMPLES / 2;

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
    /// The second half of the last frame, for the next block.
    rest: Vec<f32>,
}

impl RemoteVoice {
    pub fn new() -> Result<Self, OpusError> {
        Ok(Self {
            buffer: JitterBuffer::new(),
            decoder: OpusDecoder::new()?,
            undecodable: 0,
            last_concealed: false,
            rest: Vec::new(),
        })
    }

    /// An Opus packet stamped `rtp_time` (48 kHz) arrived at `arrival`.
    pub fn push(&mut self, rtp_time: u64, packet: Vec<u8>, arrival: Instant) {
        self.buffer.push(rtp_time, packet, arrival);
    }

    /// The next 20 ms of this voice (48 kHz mono).
    pub fn next_frame(&mut self, now: Instant) -> Result<Vec<f32>, OpusError> {
        Ok(self
            .pop_frame(now)?
            .unwrap_or_else(|| vec![0.0; FRAME_SAMPLES]))
    }

    /// The next 10 ms of this voice: half of a frame, or silence that asks the jitter buffer
    /// again at the next block.
    pub fn next_block(&mut self, now: Instant) -> Result<Vec<f32>, OpusError> {
        if !self.rest.is_empty() {
            return Ok(std::mem::take(&mut self.rest));
        }
        Ok(match self.pop_frame(now)? {
            Some(mut frame) => {
                self.rest = frame.split_off(BLOCK_SAMPLES);
                frame
            }
            None => vec![0.0; BLOCK_SAMPLES],
        })
    }

    /// The next frame, or `None` when the jitter buffer has nothing to play yet.
    fn pop_frame(&mut self, now: Instant) -> Result<Option<Vec<f32>>, OpusError> {
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
            Playout::Silence => return Ok(None),
        }?;
        Ok(Some(fit_frame(decoded)))
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

    /// Plays 40 frames of a tone (frame `f` arriving 5 ms after its 20 ms), pauses (DTX), and
    /// resumes with frame 80 arriving just before block `spurt_block`; returns the first block
    /// heard after the pause.
    fn block_heard_after_pause(spurt_block: u32) -> Option<u32> {
        const BLOCK: Duration = Duration::from_millis(10);
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut tone = Tone::new(440.0, 0.3);
        let mut voice = RemoteVoice::new().expect("voice");
        let start = Instant::now();
        let tick = |block: u32| start + BLOCK * block + Duration::from_millis(1);
        let spurt_at = tick(spurt_block) - Duration::from_millis(1);
        let talk = (0..40u32).map(|f| (f, start + FRAME_DURATION * f + Duration::from_millis(5)));
        let spurt = (0..5u32).map(|i| (80 + i, spurt_at + FRAME_DURATION * i));
        let mut arrivals = talk.chain(spurt).peekable();
        for block in 0..spurt_block + 20 {
            let now = tick(block);
            while let Some((frame, arrival)) = arrivals.next_if(|(_, at)| *at <= now) {
                let packet = encoder.encode(&tone.next_frame()).expect("encode");
                voice.push(u64::from(frame) * FRAME_SAMPLES as u64, packet, arrival);
            }
            let played = voice.next_block(now).expect("block");
            assert_eq!(played.len(), BLOCK_SAMPLES);
            // By block 120 the concealment after frame 39 has long faded to silence (0.0);
            // the first block back is the decoder fading in from it (about 0.04).
            if block >= 120 && rms(&played) > 0.01 {
                return Some(block);
            }
        }
        None
    }

    /// After a pause the first packet back plays at the first 10 ms block after it arrived,
    /// on either half of what was the voice's 20 ms cadence.
    #[test]
    fn a_talk_spurt_starts_at_the_next_block() {
        for spurt_block in [160, 161] {
            assert_eq!(block_heard_after_pause(spurt_block), Some(spurt_block));
        }
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
