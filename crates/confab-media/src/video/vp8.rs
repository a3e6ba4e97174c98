//! VP8 through libvpx (Debian's `libvpx-dev`), with the real-time settings WebRTC uses:
//! one pass, no lag, CBR, error resilient, keyframes only on request or every 3000 frames.
//!
//! This module is the only place that talks to libvpx, so it is the only one allowed `unsafe`.
//! Every call passes a context this module initialised and owns (boxed, so its address never
//! changes), and images that wrap buffers that outlive the call.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint};
use std::ptr;

use vpx_sys as vpx;

use crate::i420::{I420Layout, VideoFrame};
use crate::video::codec::{EncodedPicture, EncoderSettings};

use crate::video::codec::RTP_VIDEO_CLOCK;

#[derive(Debug, thiserror::Error)]
pub enum Vp8Error {
    #[error("libvpx {call}: {message}")]
    Codec { call: &'static str, message: String },
    #[error("the decoder produced an unusable frame: {0}")]
    BadFrame(String),
}

/// A VP8 encoder for one resolution (one simulcast layer).
pub struct Vp8Encoder {
    context: Context,
    config: vpx::vpx_codec_enc_cfg_t,
    layout: I420Layout,
    frame_duration: u64,
}

// SAFETY: the context is `Send` (see `Context`); the kept configuration's only pointers (the
// two-pass statistics buffers) are null in one-pass mode and never dereferenced by us.
unsafe impl Send for Vp8Encoder {}

impl Vp8Encoder {
    pub fn new(settings: EncoderSettings) -> Result<Self, Vp8Error> {
        let mut config = MaybeUninit::<vpx::vpx_codec_enc_cfg_t>::zeroed();
        // SAFETY: the interface is libvpx's static VP8 encoder; `config` is written in full.
        let status = unsafe {
            vpx::vpx_codec_enc_config_default(vpx::vpx_codec_vp8_cx(), config.as_mut_ptr(), 0)
        };
        check(status, "vpx_codec_enc_config_default", None)?;
        // SAFETY: initialised by the call above, which succeeded.
        let mut config = unsafe { config.assume_init() };
        let layout = settings.layout;
        config.g_w = layout.width;
        config.g_h = layout.height;
        config.g_timebase = vpx::vpx_rational {
            num: 1,
            den: RTP_VIDEO_CLOCK as c_int,
        };
        // Larger frames get a second thread; the layers already run side by side.
        config.g_threads = if layout.width * layout.height >= 1280 * 720 {
            2
        } else {
            1
        };
        config.g_lag_in_frames = 0;
        config.g_error_resilient = 1; // VPX_ERROR_RESILIENT_DEFAULT
        config.g_pass = vpx::vpx_enc_pass::VPX_RC_ONE_PASS;
        config.rc_end_usage = vpx::vpx_rc_mode::VPX_CBR;
        config.rc_target_bitrate = kbps(settings.bitrate_bps);
        config.rc_min_quantizer = 2;
        config.rc_max_quantizer = 56;
        config.rc_undershoot_pct = 100;
        config.rc_overshoot_pct = 15;
        config.rc_buf_initial_sz = 500;
        config.rc_buf_optimal_sz = 600;
        config.rc_buf_sz = 1000;
        // Never skip frames on our own: the pacer and the layers' bitrates absorb bursts.
        config.rc_dropframe_thresh = 0;
        config.rc_resize_allowed = 0;
        config.kf_mode = vpx::vpx_kf_mode::VPX_KF_AUTO;
        config.kf_max_dist = 3000;

        // SAFETY: `context` is zeroed storage for libvpx to initialise; `config` is valid.
        let context = Context::init("vpx_codec_enc_init", |context| unsafe {
            vpx::vpx_codec_enc_init_ver(
                context,
                vpx::vpx_codec_vp8_cx(),
                &config,
                0,
                vpx::VPX_ENCODER_ABI_VERSION as c_int,
            )
        })?;
        let mut encoder = Self {
            context,
            config,
            layout,
            frame_duration: u64::from(RTP_VIDEO_CLOCK / settings.fps.max(1)),
        };
        // WebRTC's choices: fastest real-time speed for this machine class, no denoiser,
        // skip static blocks, one token partition (no multi-threaded decode needed).
        let speed = if settings.detail { -4 } else { -8 };
        encoder.control(vpx::vp8e_enc_control_id::VP8E_SET_CPUUSED, speed)?;
        encoder.control(vpx::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0)?;
        encoder.control(vpx::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1)?;
        encoder.control(
            vpx::vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
            300,
        )?;
        if settings.detail {
            encoder.control(vpx::vp8e_enc_control_id::VP8E_SET_SCREEN_CONTENT_MODE, 1)?;
        }
        Ok(encoder)
    }

    fn control(&mut self, id: vpx::vp8e_enc_control_id, value: c_int) -> Result<(), Vp8Error> {
        // SAFETY: the context is initialised; these controls take one int.
        let status = unsafe { vpx::vpx_codec_control_(self.context.raw(), id as c_int, value) };
        check(status, "vpx_codec_control", Some(self.context.raw()))
    }

    pub fn layout(&self) -> I420Layout {
        self.layout
    }

    /// Changes the target bitrate from the next frame on.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), Vp8Error> {
        let target = kbps(bitrate_bps);
        if target == self.config.rc_target_bitrate {
            return Ok(());
        }
        self.config.rc_target_bitrate = target;
        // SAFETY: the context is initialised and `config` is the one it was made with.
        let status = unsafe { vpx::vpx_codec_enc_config_set(self.context.raw(), &self.config) };
        check(status, "vpx_codec_enc_config_set", Some(self.context.raw()))
    }

    /// Encodes `frame` (which must have the encoder's size) at `rtp_time` (90 kHz ticks).
    /// Returns `None` when the encoder produced no frame this time.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        rtp_time: u64,
        keyframe: bool,
    ) -> Result<Option<EncodedPicture>, Vp8Error> {
        if frame.layout() != self.layout {
            return Err(Vp8Error::BadFrame(format!(
                "{}×{} frame for a {}×{} encoder",
                frame.width(),
                frame.height(),
                self.layout.width,
                self.layout.height
            )));
        }
        let mut image = MaybeUninit::<vpx::vpx_image_t>::zeroed();
        // SAFETY: wraps (does not copy or free) the frame's packed buffer, whose size was
        // checked when the frame was made; stride alignment 1 means tightly packed planes.
        let wrapped = unsafe {
            vpx::vpx_img_wrap(
                image.as_mut_ptr(),
                vpx::vpx_img_fmt::VPX_IMG_FMT_I420,
                self.layout.width,
                self.layout.height,
                1,
                frame.data().as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(Vp8Error::BadFrame("vpx_img_wrap refused the frame".into()));
        }
        let flags = if keyframe {
            vpx::VPX_EFLAG_FORCE_KF as vpx::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: the image wraps `frame`, which lives until this function returns; libvpx
        // only reads it during the call (no lag frames are configured).
        let status = unsafe {
            vpx::vpx_codec_encode(
                self.context.raw(),
                wrapped,
                rtp_time as vpx::vpx_codec_pts_t,
                self.frame_duration as _,
                flags,
                vpx::VPX_DL_REALTIME as _,
            )
        };
        check(status, "vpx_codec_encode", Some(self.context.raw()))?;
        let mut out: Option<EncodedPicture> = None;
        let mut iterator: vpx::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: iterates the packets of the frame just encoded; each is valid until the
            // next call on this context, and copied out before that.
            let packet = unsafe { vpx::vpx_codec_get_cx_data(self.context.raw(), &mut iterator) };
            if packet.is_null() {
                break;
            }
            // SAFETY: non-null packets point at libvpx's packet struct.
            let packet = unsafe { &*packet };
            if packet.kind != vpx::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: for frame packets the `frame` member of the union is the active one, and
            // `buf` holds `sz` bytes.
            let (bytes, flags) = unsafe {
                let frame = packet.data.frame;
                (
                    std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize),
                    frame.flags,
                )
            };
            let keyframe = flags & vpx::VPX_FRAME_IS_KEY != 0;
            match &mut out {
                // One partition per frame is configured; append defensively all the same.
                Some(existing) => existing.data.extend_from_slice(bytes),
                None => {
                    out = Some(EncodedPicture {
                        data: bytes.to_vec(),
                        keyframe,
                    })
                }
            }
        }
        Ok(out)
    }
}

/// A VP8 decoder; frames come out as packed I420.
pub struct Vp8Decoder {
    context: Context,
}

impl std::fmt::Debug for Vp8Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Encoder")
            .field("layout", &self.layout)
            .field("bitrate_kbps", &self.config.rc_target_bitrate)
            .finish()
    }
}

impl std::fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vp8Decoder")
    }
}

impl Vp8Decoder {
    pub fn new() -> Result<Self, Vp8Error> {
        let config = vpx::vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        // SAFETY: zeroed storage for libvpx to initialise; `config` is valid for the call.
        let context = Context::init("vpx_codec_dec_init", |context| unsafe {
            vpx::vpx_codec_dec_init_ver(
                context,
                vpx::vpx_codec_vp8_dx(),
                &config,
                0,
                vpx::VPX_DECODER_ABI_VERSION as c_int,
            )
        })?;
        Ok(Self { context })
    }

    /// Decodes one frame. Corrupt input is an error (the caller asks for a keyframe); it
    /// never panics.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<VideoFrame>, Vp8Error> {
        if data.is_empty() {
            return Err(Vp8Error::BadFrame("an empty frame".into()));
        }
        let length = c_uint::try_from(data.len())
            .map_err(|_| Vp8Error::BadFrame(format!("{} bytes is not a frame", data.len())))?;
        // SAFETY: libvpx reads `length` bytes of `data` during the call.
        let status = unsafe {
            vpx::vpx_codec_decode(
                self.context.raw(),
                data.as_ptr(),
                length,
                ptr::null_mut(),
                0,
            )
        };
        check(status, "vpx_codec_decode", Some(self.context.raw()))?;
        let mut iterator: vpx::vpx_codec_iter_t = ptr::null();
        let mut last = None;
        loop {
            // SAFETY: images stay valid until the next decode call; copied out at once.
            let image = unsafe { vpx::vpx_codec_get_frame(self.context.raw(), &mut iterator) };
            if image.is_null() {
                break;
            }
            // SAFETY: non-null images point at libvpx's image struct.
            last = Some(copy_image(unsafe { &*image })?);
        }
        Ok(last)
    }
}

/// An initialised libvpx context (encoder or decoder), boxed so that its address never
/// changes, destroyed exactly once when dropped.
struct Context(Box<vpx::vpx_codec_ctx_t>);

// SAFETY: the context is only used through `&mut`; libvpx contexts may move between threads
// as long as one thread uses them at a time.
unsafe impl Send for Context {}

impl Context {
    /// Runs `init` (an encoder or decoder init call) on zeroed storage; the context exists
    /// only if it succeeded.
    fn init(
        call: &'static str,
        init: impl FnOnce(*mut vpx::vpx_codec_ctx_t) -> vpx::vpx_codec_err_t,
    ) -> Result<Self, Vp8Error> {
        let mut storage = Box::new(MaybeUninit::<vpx::vpx_codec_ctx_t>::zeroed());
        check(init(storage.as_mut_ptr()), call, None)?;
        // SAFETY: initialised by the successful call; `MaybeUninit<T>` has T's layout.
        Ok(Self(unsafe {
            Box::from_raw(Box::into_raw(storage).cast())
        }))
    }

    fn raw(&mut self) -> &mut vpx::vpx_codec_ctx_t {
        &mut self.0
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: initialised in `init` (a failed init never makes a `Context`); destroyed
        // once, here.
        unsafe {
            vpx::vpx_codec_destroy(self.raw());
        }
    }
}

/// Copies a decoded image (planes with strides) into a packed frame.
fn copy_image(image: &vpx::vpx_image_t) -> Result<VideoFrame, Vp8Error> {
    if image.fmt != vpx::vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(Vp8Error::BadFrame(format!("format {:?}", image.fmt)));
    }
    let layout = I420Layout::new(image.d_w, image.d_h)
        .map_err(|error| Vp8Error::BadFrame(error.to_string()))?;
    let mut frame = VideoFrame::black(layout);
    let (width, height) = (layout.width as usize, layout.height as usize);
    let (chroma_width, chroma_height) = (layout.chroma_width(), layout.chroma_height());
    let (y, u, v) = frame.planes_mut();
    for (plane, target, columns, rows) in [
        (0, y, width, height),
        (1, u, chroma_width, chroma_height),
        (2, v, chroma_width, chroma_height),
    ] {
        let stride = usize::try_from(image.stride[plane])
            .map_err(|_| Vp8Error::BadFrame("negative stride".into()))?;
        if image.planes[plane].is_null() || stride < columns {
            return Err(Vp8Error::BadFrame(format!("plane {plane} is missing")));
        }
        for row in 0..rows {
            // SAFETY: libvpx guarantees `rows` rows of `stride` bytes per plane, each with at
            // least `columns` valid bytes (checked against the stride above).
            let source = unsafe {
                std::slice::from_raw_parts(image.planes[plane].add(row * stride), columns)
            };
            target[row * columns..(row + 1) * columns].copy_from_slice(source);
        }
    }
    Ok(frame)
}

fn kbps(bps: u32) -> c_uint {
    (bps / 1000).max(30)
}

fn check(
    status: vpx::vpx_codec_err_t,
    call: &'static str,
    context: Option<&mut vpx::vpx_codec_ctx_t>,
) -> Result<(), Vp8Error> {
    if status == vpx::vpx_codec_err_t::VPX_CODEC_OK {
        return Ok(());
    }
    // SAFETY: libvpx returns static NUL-terminated strings (or null) for errors.
    let message = unsafe {
        let mut text = CStr::from_ptr(vpx::vpx_codec_err_to_string(status))
            .to_string_lossy()
            .into_owned();
        if let Some(context) = context {
            let detail = vpx::vpx_codec_error_detail(context);
            if !detail.is_null() {
                text.push_str(": ");
                text.push_str(&CStr::from_ptr(detail).to_string_lossy());
            }
        }
        text
    };
    Err(Vp8Error::Codec { call, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::source::TestPattern;

    fn settings(width: u32, height: u32) -> EncoderSettings {
        EncoderSettings {
            layout: I420Layout::new(width, height).expect("valid"),
            bitrate_bps: 500_000,
            fps: 30,
            detail: false,
        }
    }

    #[test]
    fn garbage_and_wrong_sizes_are_errors_not_panics() {
        let mut decoder = Vp8Decoder::new().expect("decoder");
        assert!(decoder.decode(&[0xff; 50]).is_err());
        assert!(matches!(decoder.decode(&[]), Err(Vp8Error::BadFrame(_))));
        // The decoder is still usable after bad input.
        let small = settings(320, 180);
        let mut keyframe_source = Vp8Encoder::new(small).expect("encoder");
        let keyframe = keyframe_source
            .encode(&TestPattern::new(small.layout, 30).render().frame, 0, true)
            .expect("encode")
            .expect("frame");
        assert!(decoder.decode(&keyframe.data).expect("decode").is_some());
        let mut encoder = Vp8Encoder::new(settings(320, 180)).expect("encoder");
        let wrong = VideoFrame::black(I420Layout::new(640, 360).expect("valid"));
        assert!(matches!(
            encoder.encode(&wrong, 0, false),
            Err(Vp8Error::BadFrame(_))
        ));
    }
}
