//! The video codecs behind one interface, so simulcast encoding and the receive pipeline work
//! the same for VP8 (libvpx) and H.264 (OpenH264): what a track negotiated picks the encoder,
//! and each remote frame's codec picks its decoder.

use confab_rtc::room::{FrameCodec, VideoCodec};

use crate::i420::{I420Layout, VideoFrame};
use crate::video::h264::{self, H264Decoder, H264Encoder, H264Error};
use crate::video::vp8::{Vp8Decoder, Vp8Encoder, Vp8Error};

/// RTP's video clock; frame times are given in its ticks.
pub const RTP_VIDEO_CLOCK: u32 = 90_000;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Vp8(#[from] Vp8Error),
    #[error(transparent)]
    H264(#[from] H264Error),
    #[error("this build decodes no {0:?}")]
    Unsupported(FrameCodec),
}

/// What to encode and how (one simulcast layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    pub layout: I420Layout,
    /// The starting bitrate, which is also the layer's ceiling.
    pub bitrate_bps: u32,
    pub fps: u32,
    /// Screen content: sharper text, fewer frames when needed.
    pub detail: bool,
}

/// One encoded frame: a VP8 frame, or an H.264 access unit in Annex B (start codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPicture {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// An encoder for one resolution, of either codec.
#[derive(Debug)]
pub enum VideoEncoder {
    /// Boxed: libvpx's configuration is kept beside the context (half a kilobyte).
    Vp8(Box<Vp8Encoder>),
    H264(H264Encoder),
}

impl VideoEncoder {
    pub fn new(codec: VideoCodec, settings: EncoderSettings) -> Result<Self, CodecError> {
        Ok(match codec {
            VideoCodec::Vp8 => Self::Vp8(Box::new(Vp8Encoder::new(settings)?)),
            VideoCodec::H264 => Self::H264(H264Encoder::new(settings)?),
        })
    }

    pub fn codec(&self) -> VideoCodec {
        match self {
            Self::Vp8(_) => VideoCodec::Vp8,
            Self::H264(_) => VideoCodec::H264,
        }
    }

    /// Changes the target bitrate from the next frame on (never above the starting one).
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), CodecError> {
        match self {
            Self::Vp8(encoder) => encoder.set_bitrate(bitrate_bps)?,
            Self::H264(encoder) => encoder.set_bitrate(bitrate_bps)?,
        }
        Ok(())
    }

    /// Encodes `frame` (which must have the encoder's size) at `rtp_time` (90 kHz ticks);
    /// `None` when the encoder skipped this frame.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        rtp_time: u64,
        keyframe: bool,
    ) -> Result<Option<EncodedPicture>, CodecError> {
        Ok(match self {
            Self::Vp8(encoder) => encoder.encode(frame, rtp_time, keyframe)?,
            Self::H264(encoder) => encoder.encode(frame, rtp_time, keyframe)?,
        })
    }
}

/// The decoders of one remote track, made when the first frame of their codec arrives (a
/// publisher may switch codecs, e.g. to a backup codec).
#[derive(Debug, Default)]
pub struct VideoDecoders {
    vp8: Option<Vp8Decoder>,
    h264: Option<H264Decoder>,
}

impl VideoDecoders {
    /// Whether this build decodes `codec`.
    pub fn supports(codec: FrameCodec) -> bool {
        matches!(codec, FrameCodec::Vp8 | FrameCodec::H264)
    }

    /// Whether `data` (a frame of `codec`) can be decoded without earlier frames.
    pub fn is_keyframe(codec: FrameCodec, data: &[u8]) -> bool {
        match codec {
            // VP8's frame tag: bit 0 of the first byte is clear on keyframes (RFC 6386 §9.1).
            FrameCodec::Vp8 => data.first().is_some_and(|tag| tag & 1 == 0),
            FrameCodec::H264 => h264::is_keyframe(data),
            _ => false,
        }
    }

    /// Decodes one frame of `codec`; `Ok(None)` when the decoder needs more before it shows a
    /// picture. Corrupt input is an error (the caller asks for a keyframe), never a panic.
    pub fn decode(
        &mut self,
        codec: FrameCodec,
        data: &[u8],
    ) -> Result<Option<VideoFrame>, CodecError> {
        Ok(match codec {
            FrameCodec::Vp8 => {
                let decoder = match &mut self.vp8 {
                    Some(decoder) => decoder,
                    empty => empty.insert(Vp8Decoder::new()?),
                };
                decoder.decode(data)?
            }
            FrameCodec::H264 => {
                let decoder = match &mut self.h264 {
                    Some(decoder) => decoder,
                    empty => empty.insert(H264Decoder::new()?),
                };
                decoder.decode(data)?
            }
            other => return Err(CodecError::Unsupported(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::source::TestPattern;
    use crate::video::stamp::read;

    const CODECS: [(VideoCodec, FrameCodec); 2] = [
        (VideoCodec::Vp8, FrameCodec::Vp8),
        (VideoCodec::H264, FrameCodec::H264),
    ];

    fn encoder(codec: VideoCodec, width: u32, height: u32) -> VideoEncoder {
        let settings = EncoderSettings {
            layout: I420Layout::new(width, height).expect("valid"),
            bitrate_bps: 800_000,
            fps: 30,
            detail: false,
        };
        VideoEncoder::new(codec, settings).expect("encoder")
    }

    /// Every frame decodes with its stamp's counter; only the first is a keyframe. VP8 never
    /// skips a frame (no frame dropping is configured); H.264's rate control may, rarely.
    #[test]
    fn the_pattern_survives_a_round_trip_with_its_counter() {
        for (codec, frame_codec) in CODECS {
            for (width, height) in [(640, 360), (320, 180)] {
                let mut encoder = encoder(codec, width, height);
                assert_eq!(encoder.codec(), codec);
                let mut pattern =
                    TestPattern::new(I420Layout::new(width, height).expect("valid"), 30);
                let mut decoders = VideoDecoders::default();
                let mut counters = Vec::new();
                for index in 0..20u64 {
                    let captured = pattern.render();
                    let Some(encoded) = encoder
                        .encode(&captured.frame, index * 3000, false)
                        .expect("encode")
                    else {
                        assert!(
                            codec == VideoCodec::H264 && index > 0,
                            "{codec:?} skipped {index}"
                        );
                        continue;
                    };
                    assert_eq!(encoded.keyframe, index == 0, "{codec:?}: only the first");
                    assert_eq!(
                        VideoDecoders::is_keyframe(frame_codec, &encoded.data),
                        index == 0
                    );
                    let decoded = decoders
                        .decode(frame_codec, &encoded.data)
                        .expect("decode")
                        .expect("a picture per frame (no reordering)");
                    assert_eq!((decoded.width(), decoded.height()), (width, height));
                    counters.push(read(&decoded).expect("stamp readable").counter);
                }
                assert!(
                    counters.len() >= 15,
                    "{codec:?} skipped too many: {counters:?}"
                );
                assert_eq!(counters[0], 0);
                assert!(
                    counters.windows(2).all(|pair| pair[0] < pair[1]),
                    "{counters:?}"
                );
            }
        }
    }

    #[test]
    fn a_keyframe_comes_on_request() {
        for (codec, _) in CODECS {
            let mut encoder = encoder(codec, 320, 180);
            let mut pattern = TestPattern::new(I420Layout::new(320, 180).expect("valid"), 30);
            let kinds: Vec<Option<bool>> = (0..4u64)
                .map(|index| {
                    encoder
                        .encode(&pattern.render().frame, index * 3000, index == 2)
                        .expect("encode")
                        .map(|encoded| encoded.keyframe)
                })
                .collect();
            assert_eq!(kinds[0], Some(true), "{codec:?}");
            assert_eq!(
                kinds[2],
                Some(true),
                "{codec:?}: the requested one: {kinds:?}"
            );
            assert!(
                kinds[1] != Some(true) && kinds[3] != Some(true),
                "{codec:?}: keyframes only when asked: {kinds:?}"
            );
            encoder.set_bitrate(150_000).expect("bitrate");
        }
    }

    #[test]
    fn keyframes_are_recognised_per_codec() {
        assert!(VideoDecoders::is_keyframe(
            FrameCodec::Vp8,
            &[0x10, 0x02, 0x00]
        ));
        assert!(!VideoDecoders::is_keyframe(FrameCodec::Vp8, &[0x11]));
        assert!(!VideoDecoders::is_keyframe(FrameCodec::Vp8, &[]));
        let idr = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88];
        assert!(VideoDecoders::is_keyframe(FrameCodec::H264, &idr));
        assert!(!VideoDecoders::is_keyframe(FrameCodec::Vp8, &[0xff]));
        assert!(!VideoDecoders::is_keyframe(FrameCodec::Av1, &idr));
    }

    #[test]
    fn an_unsupported_codec_is_an_error() {
        let mut decoders = VideoDecoders::default();
        assert!(!VideoDecoders::supports(FrameCodec::Vp9));
        assert!(matches!(
            decoders.decode(FrameCodec::Vp9, &[1, 2, 3]),
            Err(CodecError::Unsupported(FrameCodec::Vp9))
        ));
    }
}
