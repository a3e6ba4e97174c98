//! Screenshots of the X display (Xvfb in tests), taken with the core X11 protocol.
//!
//! WebKitWebDriver's own screenshot command never returns under Xvfb (it waits for a compositor
//! presentation that a GPU-less server does not deliver), and a capture of the display is the
//! better evidence anyway: it shows the window as a person would see it.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat, ImageOrder};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot connect to the X display (is DISPLAY set?): {0}")]
    Connect(#[from] x11rb::errors::ConnectError),
    #[error("X connection failed: {0}")]
    Connection(#[from] x11rb::errors::ConnectionError),
    #[error("the X server refused the capture: {0}")]
    Reply(#[from] x11rb::errors::ReplyError),
    #[error("unsupported X pixel format: {0}")]
    Unsupported(String),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// An RGB8 image of the whole screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Screenshot {
    /// Number of distinct colours: an empty (never painted) display has one.
    pub fn distinct_colours(&self) -> usize {
        let mut colours: Vec<[u8; 3]> = self
            .rgb
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        colours.sort_unstable();
        colours.dedup();
        colours.len()
    }

    pub fn to_png(&self) -> Result<Vec<u8>, CaptureError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()?;
        Ok(out)
    }
}

/// A connection to the display named by `DISPLAY`, and its default screen.
pub(crate) fn connect_to_screen() -> Result<
    (
        x11rb::rust_connection::RustConnection,
        x11rb::protocol::xproto::Screen,
    ),
    CaptureError,
> {
    let (connection, screen_index) = x11rb::connect(None)?;
    let screen = connection
        .setup()
        .roots
        .get(screen_index)
        .cloned()
        .ok_or_else(|| CaptureError::Unsupported(format!("no screen {screen_index}")))?;
    Ok((connection, screen))
}

/// Captures the root window of the display named by `DISPLAY`.
pub fn capture_screen() -> Result<Screenshot, CaptureError> {
    let (connection, screen) = connect_to_screen()?;
    let setup = connection.setup();
    let (width, height) = (screen.width_in_pixels, screen.height_in_pixels);
    let image = connection
        .get_image(ImageFormat::Z_PIXMAP, screen.root, 0, 0, width, height, !0)?
        .reply()?;
    let format = setup
        .pixmap_formats
        .iter()
        .find(|format| format.depth == image.depth)
        .ok_or_else(|| CaptureError::Unsupported(format!("depth {}", image.depth)))?;
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|depth| &depth.visuals)
        .find(|visual| visual.visual_id == image.visual)
        .ok_or_else(|| CaptureError::Unsupported(format!("visual {}", image.visual)))?;
    if format.bits_per_pixel != 32 {
        return Err(CaptureError::Unsupported(format!(
            "{} bits per pixel",
            format.bits_per_pixel
        )));
    }
    let little_endian = setup.image_byte_order == ImageOrder::LSB_FIRST;
    let masks = [visual.red_mask, visual.green_mask, visual.blue_mask];
    let pixel_count = usize::from(width) * usize::from(height);
    let mut rgb = Vec::with_capacity(pixel_count * 3);
    for chunk in image.data.chunks_exact(4).take(pixel_count) {
        let bytes = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let pixel = if little_endian {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        };
        rgb.extend(masks.map(|mask| channel(pixel, mask)));
    }
    if rgb.len() != pixel_count * 3 {
        return Err(CaptureError::Unsupported("short image reply".into()));
    }
    Ok(Screenshot {
        width: u32::from(width),
        height: u32::from(height),
        rgb,
    })
}

/// Extracts the channel selected by `mask` and scales it to 8 bits.
fn channel(pixel: u32, mask: u32) -> u8 {
    if mask == 0 {
        return 0;
    }
    let value = (pixel & mask) >> mask.trailing_zeros();
    let max = mask >> mask.trailing_zeros();
    u8::try_from(u64::from(value) * 255 / u64::from(max)).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_and_scales_channels_by_mask() {
        let pixel = 0x00AB_CDEF;
        assert_eq!(channel(pixel, 0x00FF_0000), 0xAB);
        assert_eq!(channel(pixel, 0x0000_FF00), 0xCD);
        assert_eq!(channel(pixel, 0x0000_00FF), 0xEF);
        // A 5-bit channel at full scale maps to 255.
        assert_eq!(channel(0b11111 << 11, 0b11111 << 11), 255);
        assert_eq!(channel(pixel, 0), 0);
    }

    #[test]
    fn counts_colours_and_encodes_a_valid_png() {
        let shot = Screenshot {
            width: 2,
            height: 1,
            rgb: vec![0, 0, 0, 255, 10, 20],
        };
        assert_eq!(shot.distinct_colours(), 2);
        let png = shot.to_png().expect("encode");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().expect("decodes");
        assert_eq!((reader.info().width, reader.info().height), (2, 1));
    }
}
