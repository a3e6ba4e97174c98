//! Pixel formats in and out of I420: what cameras (YUYV, NV12, MJPEG) and screens (32-bit
//! RGB) deliver, and RGBA for anything that draws without a shader.
//!
//! Colour is BT.601 in video range (Y 16–235, chroma 16–240), as WebRTC's encoders and
//! decoders expect; JPEG's full-range output is mapped into it. Chroma is the mean of each
//! 2×2 block (rounded up at odd edges), so a one-pixel detail keeps its colour at half weight
//! rather than vanishing.

use crate::i420::{I420Layout, I420LayoutError, MAX_DIMENSION, VideoFrame};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Layout(#[from] I420LayoutError),
    #[error("{format} frame of {width}×{height} needs {expected} bytes, got {actual}")]
    ShortBuffer {
        format: &'static str,
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
    #[error("{format} needs an even width, got {width}")]
    OddWidth { format: &'static str, width: u32 },
    #[error("the camera's JPEG frame does not decode: {0}")]
    Jpeg(String),
    #[error(
        "the camera's JPEG frame is {actual_width}×{actual_height}, not the {width}×{height} it announced"
    )]
    JpegSize {
        width: u32,
        height: u32,
        actual_width: u32,
        actual_height: u32,
    },
}

/// Where red, green and blue sit in each pixel of a packed RGB image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedRgb {
    /// Bytes per pixel: 3 (RGB24) or 4 (RGBX/BGRX, X11's 24- and 32-bit depths).
    pub bytes_per_pixel: usize,
    /// Byte offsets of red, green and blue within a pixel.
    pub offsets: [usize; 3],
}

impl PackedRgb {
    /// X11's little-endian 0x00RRGGBB pixels, and most GPU readbacks: bytes B, G, R, X.
    pub const BGRX: Self = Self {
        bytes_per_pixel: 4,
        offsets: [2, 1, 0],
    };
    pub const RGBA: Self = Self {
        bytes_per_pixel: 4,
        offsets: [0, 1, 2],
    };
    pub const RGB24: Self = Self {
        bytes_per_pixel: 3,
        offsets: [0, 1, 2],
    };
    pub const BGR24: Self = Self {
        bytes_per_pixel: 3,
        offsets: [2, 1, 0],
    };
}

/// BT.601 video-range luma of an RGB pixel.
fn luma(r: i32, g: i32, b: i32) -> u8 {
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

/// BT.601 video-range chroma of an RGB pixel.
fn chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

fn check_len(
    format: &'static str,
    layout: I420Layout,
    expected: usize,
    actual: usize,
) -> Result<(), ConvertError> {
    if actual < expected {
        return Err(ConvertError::ShortBuffer {
            format,
            width: layout.width,
            height: layout.height,
            expected,
            actual,
        });
    }
    Ok(())
}

/// A packed RGB image of `width`×`height` with rows `stride` bytes apart.
pub fn rgb_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PackedRgb,
) -> Result<VideoFrame, ConvertError> {
    let layout = I420Layout::new(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let row_bytes = w * format.bytes_per_pixel;
    let stride = stride.max(row_bytes);
    check_len("RGB", layout, stride * (h - 1) + row_bytes, data.len())?;
    let [r_at, g_at, b_at] = format.offsets;
    let bpp = format.bytes_per_pixel;
    let mut frame = VideoFrame::black(layout);
    let chroma_width = layout.chroma_width();
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    let luma_row = |rgb: &[u8], out: &mut [u8]| {
        for (pixel, y) in rgb.chunks_exact(bpp).zip(out) {
            *y = luma(
                i32::from(pixel[r_at]),
                i32::from(pixel[g_at]),
                i32::from(pixel[b_at]),
            );
        }
    };
    // Two rows at a time: their luma, and the chroma of each 2×2 block (an odd last row or
    // column stands in for its missing neighbour).
    for block_row in 0..layout.chroma_height() {
        let top_row = block_row * 2;
        let bottom_row = (top_row + 1).min(h - 1);
        let top = &data[top_row * stride..][..row_bytes];
        let bottom = &data[bottom_row * stride..][..row_bytes];
        luma_row(top, &mut y_plane[top_row * w..][..w]);
        if bottom_row != top_row {
            luma_row(bottom, &mut y_plane[bottom_row * w..][..w]);
        }
        let u_row = &mut u_plane[block_row * chroma_width..][..chroma_width];
        let v_row = &mut v_plane[block_row * chroma_width..][..chroma_width];
        for (block, (u, v)) in u_row.iter_mut().zip(v_row.iter_mut()).enumerate() {
            let left = block * 2 * bpp;
            let right = if block * 2 + 1 < w { left + bpp } else { left };
            let mean = |at: usize| {
                (i32::from(top[left + at])
                    + i32::from(top[right + at])
                    + i32::from(bottom[left + at])
                    + i32::from(bottom[right + at])
                    + 2)
                    / 4
            };
            (*u, *v) = chroma(mean(r_at), mean(g_at), mean(b_at));
        }
    }
    Ok(frame)
}

/// YUYV 4:2:2 (YUY2: Y0 U Y1 V), cameras' common uncompressed format; chroma of two rows
/// is averaged into one.
pub fn yuyv_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<VideoFrame, ConvertError> {
    let layout = I420Layout::new(width, height)?;
    if !width.is_multiple_of(2) {
        return Err(ConvertError::OddWidth {
            format: "YUYV",
            width,
        });
    }
    let (w, h) = (width as usize, height as usize);
    let stride = stride.max(w * 2);
    check_len("YUYV", layout, stride * (h - 1) + w * 2, data.len())?;
    let mut frame = VideoFrame::black(layout);
    let chroma_width = layout.chroma_width();
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    for row in 0..h {
        let line = &data[row * stride..row * stride + w * 2];
        for (column, pair) in line.chunks_exact(4).enumerate() {
            y_plane[row * w + column * 2] = pair[0];
            y_plane[row * w + column * 2 + 1] = pair[2];
        }
    }
    for chroma_row in 0..layout.chroma_height() {
        let top = &data[chroma_row * 2 * stride..];
        let bottom_row = (chroma_row * 2 + 1).min(h - 1);
        let bottom = &data[bottom_row * stride..];
        for column in 0..chroma_width {
            let at = column * 4;
            let mean = |offset: usize| {
                (u16::from(top[at + offset]) + u16::from(bottom[at + offset])).div_ceil(2) as u8
            };
            u_plane[chroma_row * chroma_width + column] = mean(1);
            v_plane[chroma_row * chroma_width + column] = mean(3);
        }
    }
    Ok(frame)
}

/// NV12: a luma plane, then one plane of interleaved U, V pairs at half resolution (both
/// planes `stride` bytes per row), what many cameras and hardware decoders give.
pub fn nv12_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<VideoFrame, ConvertError> {
    let layout = I420Layout::new(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let (chroma_width, chroma_height) = (layout.chroma_width(), layout.chroma_height());
    let stride = stride.max(chroma_width * 2).max(w);
    let chroma_start = stride * h;
    check_len(
        "NV12",
        layout,
        chroma_start + stride * (chroma_height - 1) + chroma_width * 2,
        data.len(),
    )?;
    let mut frame = VideoFrame::black(layout);
    let (y_plane, u_plane, v_plane) = frame.planes_mut();
    for (row, line) in y_plane.chunks_exact_mut(w).enumerate() {
        line.copy_from_slice(&data[row * stride..row * stride + w]);
    }
    for row in 0..chroma_height {
        let line = &data[chroma_start + row * stride..][..chroma_width * 2];
        for (column, pair) in line.chunks_exact(2).enumerate() {
            u_plane[row * chroma_width + column] = pair[0];
            v_plane[row * chroma_width + column] = pair[1];
        }
    }
    Ok(frame)
}

/// 8-bit greyscale (infrared and some industrial cameras): luma as is, neutral chroma.
pub fn gray_to_i420(data: &[u8], width: u32, height: u32) -> Result<VideoFrame, ConvertError> {
    let layout = I420Layout::new(width, height)?;
    check_len("GRAY", layout, layout.luma_len(), data.len())?;
    let mut frame = VideoFrame::black(layout);
    frame
        .planes_mut()
        .0
        .copy_from_slice(&data[..layout.luma_len()]);
    Ok(frame)
}

/// One Motion-JPEG frame, decoded by zune-jpeg (pure Rust) rather than a C JPEG library. The
/// camera announced `width`×`height`; a frame of any other size is refused (a corrupt frame
/// or a format switch the caller must handle).
pub fn mjpeg_to_i420(data: &[u8], width: u32, height: u32) -> Result<VideoFrame, ConvertError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(data), options);
    let rgb = decoder
        .decode()
        .map_err(|error| ConvertError::Jpeg(error.to_string()))?;
    let (actual_width, actual_height) = decoder
        .dimensions()
        .map(|(w, h)| (w as u32, h as u32))
        .ok_or_else(|| ConvertError::Jpeg("no frame header".into()))?;
    if (actual_width, actual_height) != (width, height) {
        return Err(ConvertError::JpegSize {
            width,
            height,
            actual_width,
            actual_height,
        });
    }
    rgb_to_i420(&rgb, width, height, width as usize * 3, PackedRgb::RGB24)
}

/// RGBA (alpha 255) of an I420 frame, for drawing where no YUV shader is available.
pub fn i420_to_rgba(frame: &VideoFrame) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let chroma_width = frame.layout().chroma_width();
    let planes = frame.planes();
    let mut rgba = Vec::with_capacity(w * h * 4);
    for row in 0..h {
        for column in 0..w {
            let c = 298 * (i32::from(planes.y[row * w + column]) - 16);
            let at = (row / 2) * chroma_width + column / 2;
            let d = i32::from(planes.u[at]) - 128;
            let e = i32::from(planes.v[at]) - 128;
            let clip = |value: i32| ((value + 128) >> 8).clamp(0, 255) as u8;
            rgba.extend([
                clip(c + 409 * e),
                clip(c - 100 * d - 208 * e),
                clip(c + 516 * d),
                255,
            ]);
        }
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::TestPattern;
    use crate::stamp;

    fn layout(width: u32, height: u32) -> I420Layout {
        I420Layout::new(width, height).expect("valid")
    }

    fn stamped(width: u32, height: u32) -> VideoFrame {
        TestPattern::new(layout(width, height), 30).render().frame
    }

    /// A frame whose every pixel lies inside the RGB gamut (nothing clips on the way to RGB,
    /// so a round trip can be exact up to rounding), with smooth luma and chroma.
    fn in_gamut(width: u32, height: u32) -> VideoFrame {
        let layout = layout(width, height);
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (layout.chroma_width(), layout.chroma_height());
        let mut frame = VideoFrame::black(layout);
        let (y, u, v) = frame.planes_mut();
        for (at, pixel) in y.iter_mut().enumerate() {
            *pixel = (60 + (at / w) * 60 / h + (at % w) * 60 / w) as u8;
        }
        for at in 0..cw * ch {
            u[at] = (112 + (at % cw) * 32 / cw) as u8;
            v[at] = (112 + (at / cw) * 32 / ch) as u8;
        }
        frame
    }

    /// The mean absolute difference between two frames' samples, plane by plane (pixels the
    /// RGB gamut clips cannot round-trip exactly, so the mean is the fair measure).
    fn mean_difference(a: &VideoFrame, b: &VideoFrame) -> [f64; 3] {
        let (a, b) = (a.planes(), b.planes());
        let diff = |x: &[u8], y: &[u8]| {
            x.iter()
                .zip(y)
                .map(|(p, q)| f64::from(p.abs_diff(*q)))
                .sum::<f64>()
                / x.len() as f64
        };
        [diff(a.y, b.y), diff(a.u, b.u), diff(a.v, b.v)]
    }

    #[test]
    fn primary_colours_land_on_bt601_video_range_values() {
        let cases = [
            ([0, 0, 0], (16, 128, 128)),
            ([255, 255, 255], (235, 128, 128)),
            ([255, 0, 0], (82, 90, 240)),
            ([0, 255, 0], (144, 54, 34)),
            ([0, 0, 255], (41, 240, 110)),
        ];
        for ([r, g, b], (y, u, v)) in cases {
            let frame =
                rgb_to_i420(&[r, g, b, 0].repeat(4), 2, 2, 8, PackedRgb::RGBA).expect("converts");
            let planes = frame.planes();
            assert_eq!(
                (planes.y[0], planes.u[0], planes.v[0]),
                (y, u, v),
                "{r},{g},{b}"
            );
        }
    }

    #[test]
    fn rgb_round_trips_through_i420_with_its_stamp_and_odd_sizes() {
        let round_trip = |frame: &VideoFrame| {
            let (width, height) = (frame.width(), frame.height());
            rgb_to_i420(
                &i420_to_rgba(frame),
                width,
                height,
                width as usize * 4,
                PackedRgb::RGBA,
            )
            .expect("converts")
        };
        for (width, height) in [(320, 180), (321, 181)] {
            let original = in_gamut(width, height);
            let [y, u, v] = mean_difference(&original, &round_trip(&original));
            assert!(
                y < 1.0 && u < 1.0 && v < 1.0,
                "{width}×{height}: {y} {u} {v}"
            );
            let stamped = stamped(width, height);
            assert_eq!(stamp::read(&round_trip(&stamped)), stamp::read(&stamped));
        }
    }

    #[test]
    fn rows_with_padding_are_read_at_their_stride() {
        let (width, height) = (6u32, 2u32);
        let stride = 32;
        let mut bgrx = vec![0xEEu8; stride * 2];
        for row in 0..2 {
            for column in 0..6 {
                bgrx[row * stride + column * 4..][..4].copy_from_slice(&[255, 0, 0, 0]);
            }
        }
        let frame = rgb_to_i420(&bgrx, width, height, stride, PackedRgb::BGRX).expect("ok");
        assert!(frame.planes().y.iter().all(|&y| y == 41), "pure blue");
    }

    #[test]
    fn yuyv_keeps_luma_and_averages_chroma_rows() {
        // 2×2: Y 10 20 / 30 40; U 100 / 110 → 105; V 200 / 210 → 205.
        let yuyv = [10, 100, 20, 200, 30, 110, 40, 210];
        let frame = yuyv_to_i420(&yuyv, 2, 2, 4).expect("converts");
        let planes = frame.planes();
        assert_eq!(planes.y, [10, 20, 30, 40]);
        assert_eq!((planes.u[0], planes.v[0]), (105, 205));
        assert!(matches!(
            yuyv_to_i420(&yuyv, 3, 1, 6),
            Err(ConvertError::OddWidth { .. })
        ));
        assert!(matches!(
            yuyv_to_i420(&yuyv[..6], 2, 2, 4),
            Err(ConvertError::ShortBuffer { .. })
        ));
    }

    #[test]
    fn nv12_deinterleaves_chroma_and_honours_stride() {
        let original = stamped(320, 180);
        let planes = original.planes();
        let stride = 384;
        let mut nv12 = vec![0u8; stride * (180 + 90)];
        for row in 0..180 {
            nv12[row * stride..][..320].copy_from_slice(&planes.y[row * 320..][..320]);
        }
        for row in 0..90 {
            for column in 0..160 {
                let at = 180 * stride + row * stride + column * 2;
                nv12[at] = planes.u[row * 160 + column];
                nv12[at + 1] = planes.v[row * 160 + column];
            }
        }
        let back = nv12_to_i420(&nv12, 320, 180, stride).expect("converts");
        assert_eq!(back, original);
        assert!(nv12_to_i420(&nv12[..1000], 320, 180, stride).is_err());
    }

    #[test]
    fn a_camera_jpeg_decodes_to_the_frame_it_was_made_from() {
        let jpeg_of = |frame: &VideoFrame| {
            let rgb: Vec<u8> = i420_to_rgba(frame)
                .chunks_exact(4)
                .flat_map(|pixel| [pixel[0], pixel[1], pixel[2]])
                .collect();
            let mut jpeg = Vec::new();
            jpeg_encoder::Encoder::new(&mut jpeg, 95)
                .encode(&rgb, 320, 180, jpeg_encoder::ColorType::Rgb)
                .expect("encode");
            jpeg
        };
        let smooth = in_gamut(320, 180);
        let back = mjpeg_to_i420(&jpeg_of(&smooth), 320, 180).expect("decodes");
        let [y, u, v] = mean_difference(&smooth, &back);
        assert!(y < 2.0 && u < 2.0 && v < 2.0, "{y} {u} {v}");
        let original = stamped(320, 180);
        let jpeg = jpeg_of(&original);
        let back = mjpeg_to_i420(&jpeg, 320, 180).expect("decodes");
        assert_eq!(stamp::read(&back), stamp::read(&original));
        assert!(matches!(
            mjpeg_to_i420(&jpeg, 640, 360),
            Err(ConvertError::JpegSize { .. })
        ));
        // A frame cut short (a USB hiccup) is an error or a partial picture, never a panic.
        let _ = mjpeg_to_i420(&jpeg[..jpeg.len() / 3], 320, 180);
        assert!(matches!(
            mjpeg_to_i420(b"not a jpeg", 320, 180),
            Err(ConvertError::Jpeg(_))
        ));
    }
}
