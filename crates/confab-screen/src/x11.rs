//! X11 screen sharing over the core protocol: `GetImage` of the root window (a whole screen,
//! or the rectangle a window covers on it) and XFixes' cursor image composited on top.
//!
//! A window is captured as it appears on the screen, as a person sees it: without a
//! compositor X keeps no picture of covered windows, so what covers it is shared too (as in
//! every X11 conferencing client), and the part of it off the screen is black. Frames arrive
//! over the X connection (no MIT-SHM yet), which costs a copy per frame: see
//! docs/BENCHMARKS.md for what that means at 1080p.

use std::time::Instant;

use x11rb::connection::Connection;
use x11rb::errors::{ConnectError, ConnectionError, ReplyError};
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt as _, ImageFormat, ImageOrder, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

use crate::{FramePacer, ScreenBackend, ScreenError, ShareKind, ShareOptions, ShareTarget};
use confab_frame::convert::{PackedRgb, rgb_to_i420};
use confab_frame::i420::{I420Layout, VideoFrame};
use confab_frame::source::{CaptureError, CapturedFrame, VideoSource};

impl From<ConnectError> for ScreenError {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::DisplayParsingError(_) => Self::NoDisplay,
            other => Self::X11(other.to_string()),
        }
    }
}

impl From<ConnectionError> for ScreenError {
    fn from(error: ConnectionError) -> Self {
        Self::X11(error.to_string())
    }
}

impl From<ReplyError> for ScreenError {
    fn from(error: ReplyError) -> Self {
        Self::X11(error.to_string())
    }
}

/// The screens and windows of one X display.
#[derive(Debug)]
pub struct X11Screens {
    display: Option<String>,
    connection: RustConnection,
    screen: usize,
}

impl X11Screens {
    /// Connects to `display` (`:0`), or to the one `DISPLAY` names.
    pub fn connect(display: Option<&str>) -> Result<Self, ScreenError> {
        if display.is_none() && std::env::var_os("DISPLAY").is_none() {
            return Err(ScreenError::NoDisplay);
        }
        let (connection, screen) = x11rb::connect(display)?;
        Ok(Self {
            display: display.map(str::to_owned),
            connection,
            screen,
        })
    }

    fn root(&self) -> Result<&x11rb::protocol::xproto::Screen, ScreenError> {
        self.connection
            .setup()
            .roots
            .get(self.screen)
            .ok_or_else(|| ScreenError::X11(format!("no screen {}", self.screen)))
    }

    /// Top-level windows worth sharing: the window manager's client list when there is one,
    /// else the root's mapped children that have a title.
    fn windows(&self) -> Result<Vec<ShareTarget>, ScreenError> {
        let root = self.root()?.root;
        let client_list = atom(&self.connection, b"_NET_CLIENT_LIST_STACKING")?;
        let managed = self
            .connection
            .get_property(false, root, client_list, AtomEnum::WINDOW, 0, 4096)?
            .reply()?
            .value32()
            .map(|windows| windows.collect::<Vec<_>>())
            .unwrap_or_default();
        let mut candidates = if managed.is_empty() {
            self.connection.query_tree(root)?.reply()?.children
        } else {
            managed
        };
        candidates.reverse(); // both lists run bottom to top
        let net_wm_name = atom(&self.connection, b"_NET_WM_NAME")?;
        let mut windows = Vec::new();
        for window in candidates {
            let Ok(attributes) = self.connection.get_window_attributes(window)?.reply() else {
                continue; // closed meanwhile
            };
            if attributes.map_state != MapState::VIEWABLE || attributes.override_redirect {
                continue; // hidden, or a menu or tooltip
            }
            let Some(title) = title(&self.connection, window, net_wm_name)? else {
                continue;
            };
            let Ok(geometry) = self.connection.get_geometry(window)?.reply() else {
                continue;
            };
            if geometry.width < 2 || geometry.height < 2 {
                continue;
            }
            windows.push(ShareTarget {
                id: format!("window:{window:#x}"),
                kind: ShareKind::Window,
                name: title,
                width: u32::from(geometry.width),
                height: u32::from(geometry.height),
            });
        }
        Ok(windows)
    }
}

impl ScreenBackend for X11Screens {
    fn name(&self) -> &'static str {
        "X11"
    }

    fn targets(&self) -> Result<Vec<ShareTarget>, ScreenError> {
        let screen = self.root()?;
        let mut targets = vec![ShareTarget {
            id: format!("screen:{}", self.screen),
            kind: ShareKind::Screen,
            name: "Entire screen".into(),
            width: u32::from(screen.width_in_pixels),
            height: u32::from(screen.height_in_pixels),
        }];
        targets.extend(self.windows()?);
        Ok(targets)
    }

    fn open(&self, id: &str, options: ShareOptions) -> Result<Box<dyn VideoSource>, ScreenError> {
        let region = parse_target(id, self.screen)?;
        if let Region::Window(window) = region {
            // Refuse a window that is gone now, not at the first frame.
            self.connection
                .get_geometry(window)?
                .reply()
                .map_err(|_| ScreenError::NotFound(id.to_owned()))?;
        }
        let capture = X11Capture::open(self.display.as_deref(), region, options)?;
        Ok(Box::new(capture))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Screen,
    Window(Window),
}

fn parse_target(id: &str, screen: usize) -> Result<Region, ScreenError> {
    let not_found = || ScreenError::NotFound(id.to_owned());
    if let Some(number) = id.strip_prefix("screen:") {
        return (number.parse::<usize>().ok() == Some(screen))
            .then_some(Region::Screen)
            .ok_or_else(not_found);
    }
    let hex = id.strip_prefix("window:0x").ok_or_else(not_found)?;
    u32::from_str_radix(hex, 16)
        .map(Region::Window)
        .map_err(|_| not_found())
}

fn atom(connection: &RustConnection, name: &[u8]) -> Result<u32, ScreenError> {
    Ok(connection.intern_atom(false, name)?.reply()?.atom)
}

/// `_NET_WM_NAME` (UTF-8; its atom is `net_wm_name`), else `WM_NAME`; `None` for untitled
/// windows.
fn title(
    connection: &RustConnection,
    window: Window,
    net_wm_name: u32,
) -> Result<Option<String>, ScreenError> {
    for property in [net_wm_name, AtomEnum::WM_NAME.into()] {
        let Ok(reply) = connection
            .get_property(false, window, property, AtomEnum::ANY, 0, 1024)?
            .reply()
        else {
            return Ok(None);
        };
        if !reply.value.is_empty() {
            return Ok(Some(String::from_utf8_lossy(&reply.value).into_owned()));
        }
    }
    Ok(None)
}

/// Capture of one screen or window, on a connection of its own (it runs on the send thread).
#[derive(Debug)]
pub struct X11Capture {
    connection: RustConnection,
    root: Window,
    screen_size: (u16, u16),
    region: Region,
    pixels: PackedRgb,
    cursor: bool,
    pacer: FramePacer,
}

impl X11Capture {
    fn open(
        display: Option<&str>,
        region: Region,
        options: ShareOptions,
    ) -> Result<Self, ScreenError> {
        let (connection, screen_index) = x11rb::connect(display)?;
        let setup = connection.setup();
        let screen = setup
            .roots
            .get(screen_index)
            .ok_or_else(|| ScreenError::X11(format!("no screen {screen_index}")))?;
        let pixels = pixel_format(setup, screen)?;
        let (root, screen_size) = (
            screen.root,
            (screen.width_in_pixels, screen.height_in_pixels),
        );
        if options.cursor {
            connection.xfixes_query_version(4, 0)?.reply()?;
        }
        Ok(Self {
            connection,
            root,
            screen_size,
            region,
            pixels,
            cursor: options.cursor,
            pacer: FramePacer::new(options.max_fps),
        })
    }

    /// Where the shared rectangle is on the screen now: (x, y, width, height).
    fn rectangle(&self) -> Result<(i32, i32, u16, u16), CaptureError> {
        match self.region {
            Region::Screen => Ok((0, 0, self.screen_size.0, self.screen_size.1)),
            Region::Window(window) => {
                let gone = |_| CaptureError::Gone(format!("window {window:#x} was closed"));
                let geometry = self
                    .connection
                    .get_geometry(window)
                    .map_err(failed)?
                    .reply()
                    .map_err(gone)?;
                let origin = self
                    .connection
                    .translate_coordinates(window, self.root, 0, 0)
                    .map_err(failed)?
                    .reply()
                    .map_err(gone)?;
                Ok((
                    i32::from(origin.dst_x),
                    i32::from(origin.dst_y),
                    geometry.width,
                    geometry.height,
                ))
            }
        }
    }

    /// The pixels of `rectangle` as 32-bit pixels, tightly packed; what lies off the screen
    /// is black.
    fn grab(&self, (x, y, width, height): (i32, i32, u16, u16)) -> Result<Vec<u8>, CaptureError> {
        let (w, h) = (usize::from(width), usize::from(height));
        let (screen_w, screen_h) = (i32::from(self.screen_size.0), i32::from(self.screen_size.1));
        let (left, top) = (x.max(0), y.max(0));
        let right = (x + i32::from(width)).min(screen_w);
        let bottom = (y + i32::from(height)).min(screen_h);
        let visible = right > left && bottom > top;
        if visible
            && (left, top, right, bottom) == (x, y, x + i32::from(width), y + i32::from(height))
        {
            return self.get_image(x, y, width, height);
        }
        let mut pixels = vec![0u8; w * h * 4];
        if visible {
            let part = self.get_image(left, top, (right - left) as u16, (bottom - top) as u16)?;
            let part_row = (right - left) as usize * 4;
            let (dx, dy) = ((left - x) as usize, (top - y) as usize);
            for (row, line) in part.chunks_exact(part_row).enumerate() {
                let at = (dy + row) * w * 4 + dx * 4;
                pixels[at..at + part_row].copy_from_slice(line);
            }
        }
        Ok(pixels)
    }

    fn get_image(&self, x: i32, y: i32, width: u16, height: u16) -> Result<Vec<u8>, CaptureError> {
        let image = self
            .connection
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                x as i16,
                y as i16,
                width,
                height,
                !0,
            )
            .map_err(failed)?
            .reply()
            .map_err(|error| CaptureError::Failed(error.to_string()))?;
        let expected = usize::from(width) * usize::from(height) * 4;
        if image.data.len() < expected {
            return Err(CaptureError::Failed(format!(
                "the X server sent {} bytes for a {width}×{height} picture",
                image.data.len()
            )));
        }
        let mut data = image.data;
        data.truncate(expected);
        Ok(data)
    }

    /// Draws the pointer over `pixels` (a `width`-wide picture whose top-left is at `origin`
    /// on the screen). The cursor image is premultiplied ARGB.
    fn draw_cursor(
        &self,
        pixels: &mut [u8],
        width: usize,
        origin: (i32, i32),
    ) -> Result<(), CaptureError> {
        let cursor = self
            .connection
            .xfixes_get_cursor_image()
            .map_err(failed)?
            .reply()
            .map_err(|error| CaptureError::Failed(error.to_string()))?;
        let height = pixels.len() / (width * 4);
        let left = i32::from(cursor.x) - i32::from(cursor.xhot) - origin.0;
        let top = i32::from(cursor.y) - i32::from(cursor.yhot) - origin.1;
        let [r_at, g_at, b_at] = self.pixels.offsets;
        for (row, line) in cursor
            .cursor_image
            .chunks_exact(usize::from(cursor.width).max(1))
            .enumerate()
        {
            let y = top + row as i32;
            if y < 0 || y as usize >= height {
                continue;
            }
            for (column, &argb) in line.iter().enumerate() {
                let x = left + column as i32;
                if x < 0 || x as usize >= width {
                    continue;
                }
                let [alpha, red, green, blue] = argb.to_be_bytes();
                if alpha == 0 {
                    continue;
                }
                let at = (y as usize * width + x as usize) * 4;
                let keep = u16::from(255 - alpha);
                for (offset, value) in [(r_at, red), (g_at, green), (b_at, blue)] {
                    let under = u16::from(pixels[at + offset]);
                    pixels[at + offset] =
                        (u16::from(value) + (under * keep + 127) / 255).min(255) as u8;
                }
            }
        }
        Ok(())
    }
}

fn failed(error: ConnectionError) -> CaptureError {
    CaptureError::Gone(format!("the X display went away: {error}"))
}

impl VideoSource for X11Capture {
    fn layout(&self) -> I420Layout {
        let (width, height) = match self.rectangle() {
            Ok((_, _, width, height)) => (width, height),
            Err(_) => self.screen_size,
        };
        I420Layout::new(u32::from(width).max(1), u32::from(height).max(1)).unwrap_or(I420Layout {
            width: 1,
            height: 1,
        })
    }

    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        self.pacer.wait();
        let rectangle = self.rectangle()?;
        let (x, y, width, height) = rectangle;
        if width == 0 || height == 0 {
            return Err(CaptureError::Failed("the window has no size".into()));
        }
        let captured_at = Instant::now();
        let mut pixels = self.grab(rectangle)?;
        if self.cursor {
            self.draw_cursor(&mut pixels, usize::from(width), (x, y))?;
        }
        let frame: VideoFrame = rgb_to_i420(
            &pixels,
            u32::from(width),
            u32::from(height),
            usize::from(width) * 4,
            self.pixels,
        )
        .map_err(|error| CaptureError::Failed(error.to_string()))?;
        Ok(CapturedFrame { frame, captured_at })
    }
}

/// Where red, green and blue sit in the screen's 32-bit pixels.
fn pixel_format(
    setup: &x11rb::protocol::xproto::Setup,
    screen: &x11rb::protocol::xproto::Screen,
) -> Result<PackedRgb, ScreenError> {
    let depth = screen.root_depth;
    let format = setup
        .pixmap_formats
        .iter()
        .find(|format| format.depth == depth)
        .ok_or_else(|| ScreenError::X11(format!("no pixmap format for depth {depth}")))?;
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|allowed| &allowed.visuals)
        .find(|visual| visual.visual_id == screen.root_visual)
        .ok_or_else(|| ScreenError::X11("the root visual is not listed".into()))?;
    if format.bits_per_pixel != 32 {
        return Err(ScreenError::X11(format!(
            "{} bits per pixel screens are not supported (only 24/32-bit colour)",
            format.bits_per_pixel
        )));
    }
    let little_endian = setup.image_byte_order == ImageOrder::LSB_FIRST;
    let byte_of = |mask: u32| -> Result<usize, ScreenError> {
        let shift = mask.trailing_zeros();
        if mask >> shift != 0xff || !shift.is_multiple_of(8) {
            return Err(ScreenError::X11(format!("colour mask {mask:#x}")));
        }
        let byte = (shift / 8) as usize;
        Ok(if little_endian { byte } else { 3 - byte })
    };
    Ok(PackedRgb {
        bytes_per_pixel: 4,
        offsets: [
            byte_of(visual.red_mask)?,
            byte_of(visual.green_mask)?,
            byte_of(visual.blue_mask)?,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_ids_parse_and_strangers_are_not_found() {
        assert_eq!(parse_target("screen:0", 0).expect("ok"), Region::Screen);
        assert_eq!(
            parse_target("window:0x400001", 0).expect("ok"),
            Region::Window(0x0040_0001)
        );
        for stranger in ["screen:1", "window:12", "window:0xzz", "tab:3", ""] {
            assert!(
                matches!(parse_target(stranger, 0), Err(ScreenError::NotFound(_))),
                "{stranger}"
            );
        }
    }

    #[test]
    fn no_display_is_a_clear_error() {
        let error = X11Screens::connect(Some("not a display")).expect_err("no such display");
        assert!(matches!(error, ScreenError::NoDisplay), "{error}");
    }
}
