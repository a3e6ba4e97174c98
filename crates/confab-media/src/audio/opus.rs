//! Opus at 48 kHz mono in 20 ms frames, set up as WebRTC sends voice: VoIP mode, in-band FEC
//! (so a lost frame can be rebuilt from the next one), DTX (almost nothing during silence).

use opusic_c::{
    Application, Bitrate, Channels, Decoder, Encoder, ErrorCode, InbandFec, SampleRate,
};

/// Samples per channel in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
pub const FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);
/// The largest packet one frame can produce (RFC 6716 §3.2.1).
const MAX_PACKET: usize = 1275;
/// Voice at 32 kbit/s is what LiveKit's SDKs publish by default ("speech" preset).
const DEFAULT_BITRATE_BPS: u32 = 32_000;
/// The loss rate the encoder plans its FEC for.
const EXPECTED_LOSS_PERCENT: u8 = 10;

#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    #[error("opus {call}: {}", .code.message())]
    Codec { call: &'static str, code: ErrorCode },
    #[error("a frame must be {FRAME_SAMPLES} samples, got {0}")]
    FrameSize(usize),
}

fn codec(call: &'static str) -> impl Fn(ErrorCode) -> OpusError {
    move |code| OpusError::Codec { call, code }
}

/// Settings a track chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    pub bitrate_bps: u32,
    pub fec: bool,
    pub dtx: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        Self {
            bitrate_bps: DEFAULT_BITRATE_BPS,
            fec: true,
            dtx: true,
        }
    }
}

pub struct OpusEncoder {
    encoder: Encoder,
    packet: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusEncoder")
    }
}

impl OpusEncoder {
    pub fn new(settings: OpusSettings) -> Result<Self, OpusError> {
        let mut encoder = Encoder::new(Channels::Mono, SampleRate::Hz48000, Application::Voip)
            .map_err(codec("create encoder"))?;
        encoder
            .set_bitrate(Bitrate::Value(settings.bitrate_bps))
            .map_err(codec("set bitrate"))?;
        let fec = if settings.fec {
            InbandFec::Mode1
        } else {
            InbandFec::Off
        };
        encoder.set_inband_fec(fec).map_err(codec("set FEC"))?;
        encoder
            .set_packet_loss(EXPECTED_LOSS_PERCENT)
            .map_err(codec("set expected loss"))?;
        encoder.set_dtx(settings.dtx).map_err(codec("set DTX"))?;
        Ok(Self {
            encoder,
            packet: vec![0; MAX_PACKET],
        })
    }

    /// Encodes one 20 ms frame of samples in [-1, 1].
    pub fn encode(&mut self, samples: &[f32]) -> Result<Vec<u8>, OpusError> {
        if samples.len() != FRAME_SAMPLES {
            return Err(OpusError::FrameSize(samples.len()));
        }
        let length = self
            .encoder
            .encode_float_to_slice(samples, &mut self.packet)
            .map_err(codec("encode"))?;
        Ok(self.packet[..length].to_vec())
    }
}

pub struct OpusDecoder {
    decoder: Decoder,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusDecoder")
    }
}

impl OpusDecoder {
    pub fn new() -> Result<Self, OpusError> {
        Ok(Self {
            decoder: Decoder::new(Channels::Mono, SampleRate::Hz48000)
                .map_err(codec("create decoder"))?,
        })
    }

    /// Decodes one packet into 20 ms of samples. A corrupt packet is an error; the caller
    /// conceals it with [`OpusDecoder::conceal`].
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<f32>, OpusError> {
        self.run(packet, false, "decode")
    }

    /// 20 ms in place of a lost packet: rebuilt from `next`'s FEC data when the packet after
    /// the gap is at hand, otherwise the decoder's concealment (PLC).
    pub fn conceal(&mut self, next: Option<&[u8]>) -> Result<Vec<f32>, OpusError> {
        match next {
            Some(packet) if !packet.is_empty() => self.run(packet, true, "decode FEC"),
            _ => self.run(&[], false, "conceal"),
        }
    }

    fn run(&mut self, packet: &[u8], fec: bool, call: &'static str) -> Result<Vec<f32>, OpusError> {
        let mut samples = vec![0.0; FRAME_SAMPLES];
        let decoded = self
            .decoder
            .decode_float_to_slice(packet, &mut samples, fec)
            .map_err(codec(call))?;
        samples.truncate(decoded);
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::tone_share;
    use crate::audio::tone::Tone;

    #[test]
    fn a_tone_survives_the_round_trip() {
        let mut tone = Tone::new(440.0, 0.4);
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut decoder = OpusDecoder::new().expect("decoder");
        let mut decoded = Vec::new();
        for _ in 0..50 {
            let packet = encoder.encode(&tone.next_frame()).expect("encode");
            assert!(packet.len() > 2, "a tone is not silence");
            decoded.extend(decoder.decode(&packet).expect("decode"));
        }
        // Skip the codec's start-up (its look-ahead and the first frames' ramp).
        let settled = &decoded[FRAME_SAMPLES * 10..];
        assert!(
            tone_share(settled, 440.0) > 0.8,
            "{}",
            tone_share(settled, 440.0)
        );
        assert!(tone_share(settled, 1000.0) < 0.05);
    }

    #[test]
    fn lost_frames_are_rebuilt_from_fec_or_concealed() {
        let mut tone = Tone::new(300.0, 0.4);
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut decoder = OpusDecoder::new().expect("decoder");
        let packets: Vec<Vec<u8>> = (0..30)
            .map(|_| encoder.encode(&tone.next_frame()).expect("encode"))
            .collect();
        let mut decoded = Vec::new();
        for (index, packet) in packets.iter().enumerate() {
            let frame = match index {
                15 => decoder.conceal(packets.get(16).map(Vec::as_slice)),
                16 => decoder.conceal(None),
                _ => decoder.decode(packet),
            }
            .expect("decode");
            assert_eq!(frame.len(), FRAME_SAMPLES);
            decoded.extend(frame);
        }
        assert!(tone_share(&decoded[FRAME_SAMPLES * 10..], 300.0) > 0.6);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        assert!(matches!(
            encoder.encode(&[0.0; 100]),
            Err(OpusError::FrameSize(100))
        ));
        let mut decoder = OpusDecoder::new().expect("decoder");
        // A code-3 packet claiming 63 frames of 60 ms cannot fit in 20 ms of output.
        assert!(decoder.decode(&[0xff, 0xff, 0xff]).is_err());
        assert!(
            decoder
                .decode(&encoder.encode(&[0.0; FRAME_SAMPLES]).expect("encode"))
                .is_ok()
        );
    }
}
