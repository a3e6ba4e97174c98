//! H.264 through OpenH264 (built from source by the `openh264` crate), set up as WebRTC sets
//! it up: constrained baseline, one slice per picture (the RTP packetizer fragments it), bitrate
//! rate control that may skip a frame to hold the rate (OpenH264 cannot hold it otherwise), an
//! IDR only on request, SPS and PPS in
//! front of every IDR so a receiver can start at any keyframe.
//!
//! Only the bitrate change needs OpenH264's raw option call; everything else goes through the
//! crate's safe API.
#![allow(unsafe_code)]

use std::os::raw::c_int;

use openh264::OpenH264API;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;

use crate::i420::{I420Layout, I420Planes, VideoFrame};
use crate::video::codec::{EncodedPicture, EncoderSettings};

/// The floor OpenH264 is given, whatever the estimate says: below it pictures fall apart.
const MIN_BITRATE_BPS: u32 = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum H264Error {
    #[error("openh264 {call}: {message}")]
    Codec { call: &'static str, message: String },
    #[error("H.264 needs even sizes (4:2:0 macroblocks), got {width}×{height}")]
    OddSize { width: u32, height: u32 },
    #[error("the decoder produced an unusable frame: {0}")]
    BadFrame(String),
}

impl H264Error {
    fn codec(call: &'static str, error: openh264::Error) -> Self {
        Self::Codec {
            call,
            message: error.to_string(),
        }
    }
}

/// An H.264 encoder for one resolution (one simulcast layer).
pub struct H264Encoder {
    /// Boxed: OpenH264's bitstream description makes it several kilobytes.
    encoder: Box<Encoder>,
    layout: I420Layout,
    /// The bitrate asked for last, and the ceiling (the starting bitrate).
    bitrate_bps: u32,
    max_bitrate_bps: u32,
    /// The bitrate OpenH264 runs at. It initialises itself on the first frame and refuses
    /// options until then (`cmInitExpected`), so a change asked for earlier waits for it.
    applied_bps: Option<u32>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("layout", &self.layout)
            .field("bitrate_bps", &self.bitrate_bps)
            .field("applied_bps", &self.applied_bps)
            .finish()
    }
}

impl H264Encoder {
    pub fn new(settings: EncoderSettings) -> Result<Self, H264Error> {
        let layout = settings.layout;
        if !layout.width.is_multiple_of(2) || !layout.height.is_multiple_of(2) {
            return Err(H264Error::OddSize {
                width: layout.width,
                height: layout.height,
            });
        }
        let usage = if settings.detail {
            UsageType::ScreenContentRealTime
        } else {
            UsageType::CameraVideoRealTime
        };
        let bitrate_bps = settings.bitrate_bps.max(MIN_BITRATE_BPS);
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.fps.max(1) as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(true)
            .usage_type(usage)
            .profile(Profile::Baseline)
            .complexity(Complexity::Low)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            // The layers already run side by side on a machine's few cores.
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|error| H264Error::codec("WelsCreateSVCEncoder", error))?;
        Ok(Self {
            encoder: Box::new(encoder),
            layout,
            bitrate_bps,
            max_bitrate_bps: bitrate_bps,
            applied_bps: None,
        })
    }

    pub fn layout(&self) -> I420Layout {
        self.layout
    }

    /// Changes the target bitrate from the next frame on (from the second, if no frame has
    /// been encoded yet), within the floor and the ceiling.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), H264Error> {
        self.bitrate_bps = bitrate_bps.clamp(MIN_BITRATE_BPS, self.max_bitrate_bps);
        self.apply_bitrate()
    }

    /// Hands the wanted bitrate to OpenH264 if it is initialised and runs at another.
    fn apply_bitrate(&mut self) -> Result<(), H264Error> {
        let Some(applied) = self.applied_bps else {
            return Ok(());
        };
        let bitrate_bps = self.bitrate_bps;
        if bitrate_bps == applied {
            return Ok(());
        }
        let mut info = openh264_sys2::SBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: c_int::try_from(bitrate_bps).unwrap_or(c_int::MAX),
        };
        // SAFETY: the encoder is initialised (made in `new`, used by no one else); this option
        // reads one `SBitrateInfo`, which lives for the call.
        let status = unsafe {
            self.encoder.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_BITRATE,
                (&raw mut info).cast(),
            )
        };
        if status != 0 {
            return Err(H264Error::Codec {
                call: "SetOption(ENCODER_OPTION_BITRATE)",
                message: format!("status {status}"),
            });
        }
        self.applied_bps = Some(bitrate_bps);
        Ok(())
    }

    /// Encodes `frame` (which must have the encoder's size); `None` when rate control skipped
    /// it. `rtp_time` is not needed: OpenH264 paces by the frame rate it was given.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        _rtp_time: u64,
        keyframe: bool,
    ) -> Result<Option<EncodedPicture>, H264Error> {
        if frame.layout() != self.layout {
            return Err(H264Error::BadFrame(format!(
                "{}×{} frame for a {}×{} encoder",
                frame.width(),
                frame.height(),
                self.layout.width,
                self.layout.height
            )));
        }
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let source = PackedI420 {
            planes: frame.planes(),
            layout: self.layout,
        };
        self.apply_bitrate()?;
        let stream = self
            .encoder
            .encode(&source)
            .map_err(|error| H264Error::codec("EncodeFrame", error))?;
        let kind = stream.frame_type();
        // The first frame initialised OpenH264, at the starting bitrate.
        self.applied_bps.get_or_insert(self.max_bitrate_bps);
        if matches!(kind, FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let data = stream.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(EncodedPicture {
            keyframe: matches!(kind, FrameType::IDR) || is_keyframe(&data),
            data,
        }))
    }
}

/// An H.264 decoder (Annex B access units in, packed I420 out).
pub struct H264Decoder {
    decoder: Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H264Decoder")
    }
}

impl H264Decoder {
    pub fn new() -> Result<Self, H264Error> {
        let decoder =
            Decoder::new().map_err(|error| H264Error::codec("WelsCreateDecoder", error))?;
        Ok(Self { decoder })
    }

    /// Decodes one access unit; `Ok(None)` while the decoder has no picture to show yet.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<VideoFrame>, H264Error> {
        if data.is_empty() {
            return Err(H264Error::BadFrame("an empty frame".into()));
        }
        let Some(picture) = self
            .decoder
            .decode(data)
            .map_err(|error| H264Error::codec("DecodeFrameNoDelay", error))?
        else {
            return Ok(None);
        };
        copy_picture(&picture).map(Some)
    }
}

/// Whether an Annex B access unit holds an IDR slice (NAL type 5): decodable on its own.
pub fn is_keyframe(data: &[u8]) -> bool {
    nal_types(data).any(|kind| kind == 5)
}

/// The NAL unit types of an Annex B stream, in order.
fn nal_types(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
    // Every NAL starts after 00 00 01 (the 4-byte start code ends the same way).
    data.windows(4)
        .filter(|window| window[..3] == [0, 0, 1])
        .map(|window| window[3] & 0x1f)
}

/// Copies a decoded picture (planes with strides) into a packed frame.
fn copy_picture(picture: &impl YUVSource) -> Result<VideoFrame, H264Error> {
    let (width, height) = picture.dimensions();
    let layout = I420Layout::new(
        u32::try_from(width).unwrap_or(0),
        u32::try_from(height).unwrap_or(0),
    )
    .map_err(|error| H264Error::BadFrame(error.to_string()))?;
    let (y_stride, u_stride, v_stride) = picture.strides();
    let mut frame = VideoFrame::black(layout);
    let (chroma_width, chroma_height) = (layout.chroma_width(), layout.chroma_height());
    let (y, u, v) = frame.planes_mut();
    for (source, stride, target, columns, rows) in [
        (picture.y(), y_stride, y, width, height),
        (picture.u(), u_stride, u, chroma_width, chroma_height),
        (picture.v(), v_stride, v, chroma_width, chroma_height),
    ] {
        if stride < columns || source.len() < stride * (rows - 1) + columns {
            return Err(H264Error::BadFrame(format!(
                "a {columns}×{rows} plane in {} bytes with stride {stride}",
                source.len()
            )));
        }
        for row in 0..rows {
            target[row * columns..(row + 1) * columns]
                .copy_from_slice(&source[row * stride..row * stride + columns]);
        }
    }
    Ok(frame)
}

/// One of our packed frames as OpenH264's input.
struct PackedI420<'a> {
    planes: I420Planes<'a>,
    layout: I420Layout,
}

impl YUVSource for PackedI420<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.layout.width as usize, self.layout.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let chroma = self.layout.chroma_width();
        (self.layout.width as usize, chroma, chroma)
    }

    fn y(&self) -> &[u8] {
        self.planes.y
    }

    fn u(&self) -> &[u8] {
        self.planes.u
    }

    fn v(&self) -> &[u8] {
        self.planes.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::source::TestPattern;

    fn settings(width: u32, height: u32) -> EncoderSettings {
        EncoderSettings {
            layout: I420Layout::new(width, height).expect("valid"),
            bitrate_bps: 800_000,
            fps: 30,
            detail: false,
        }
    }

    #[test]
    fn an_idr_carries_its_parameter_sets_and_the_bitrate_is_clamped() {
        let settings = settings(320, 180);
        let mut pattern = TestPattern::new(settings.layout, 30);
        let mut encoder = H264Encoder::new(settings).expect("encoder");
        // An estimate may come before the first frame, when OpenH264 takes no options yet.
        encoder
            .set_bitrate(200_000)
            .expect("a bitrate before the first frame");
        for index in 0..3u64 {
            let requested = index == 2;
            let Some(encoded) = encoder
                .encode(&pattern.render().frame, index * 3000, requested)
                .expect("encode")
            else {
                continue;
            };
            if encoded.keyframe {
                let types: Vec<u8> = nal_types(&encoded.data).collect();
                assert!(
                    types.starts_with(&[7, 8]) && types.contains(&5),
                    "SPS, PPS, IDR expected: {types:?}"
                );
            }
        }
        assert_eq!(
            encoder.applied_bps,
            Some(200_000),
            "applied from the second frame"
        );
        encoder.set_bitrate(150_000).expect("bitrate");
        assert_eq!(encoder.applied_bps, Some(150_000));
        encoder.set_bitrate(10).expect("clamped to the floor");
        assert_eq!(encoder.bitrate_bps, MIN_BITRATE_BPS);
        encoder
            .set_bitrate(u32::MAX)
            .expect("clamped to the ceiling");
        assert_eq!(encoder.bitrate_bps, 800_000);
    }

    #[test]
    fn garbage_odd_sizes_and_wrong_sizes_are_errors_not_panics() {
        let mut decoder = H264Decoder::new().expect("decoder");
        assert!(matches!(decoder.decode(&[]), Err(H264Error::BadFrame(_))));
        // Garbage either fails or shows nothing; the decoder stays usable.
        let garbage = [0, 0, 0, 1, 0x65, 0xff, 0x13, 0x37, 0x00, 0x42];
        assert!(!matches!(decoder.decode(&garbage), Ok(Some(_))));
        let small = settings(320, 180);
        let mut encoder = H264Encoder::new(small).expect("encoder");
        let keyframe = encoder
            .encode(&TestPattern::new(small.layout, 30).render().frame, 0, true)
            .expect("encode")
            .expect("frame");
        assert!(decoder.decode(&keyframe.data).expect("decode").is_some());
        let wrong = VideoFrame::black(I420Layout::new(640, 360).expect("valid"));
        assert!(matches!(
            encoder.encode(&wrong, 0, false),
            Err(H264Error::BadFrame(_))
        ));
        assert!(matches!(
            H264Encoder::new(settings(321, 180)),
            Err(H264Error::OddSize { .. })
        ));
    }

    #[test]
    fn idr_slices_mark_keyframes() {
        assert!(is_keyframe(&[
            0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 3
        ]));
        assert!(!is_keyframe(&[0, 0, 0, 1, 0x41, 0x9a, 0x00]));
        assert!(!is_keyframe(&[]));
    }
}
