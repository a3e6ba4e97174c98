//! Screen sharing: what can be shared (whole screens and single windows) and capturing one
//! of them as a [`VideoSource`], at its native resolution, paced to at most 30 fps, with the
//! cursor drawn in.
//!
//! One trait, one backend per display system. Built and tested here: X11 (the core
//! protocol's `GetImage` plus XFixes for the cursor), tested against Xvfb, and Wayland
//! (xdg-desktop-portal + PipeWire), tested against a headless sway with
//! xdg-desktop-portal-wlr. Built and compile-checked from Linux, never run here (no Windows
//! or Mac in this project's CI): Windows (Graphics Capture, `graphics_capture`) and macOS
//! (ScreenCaptureKit, `screen_capture_kit`).
//!
//! Its own crate, free of the codecs' C libraries, so `cargo clippy --target ...` can check
//! every OS's backend from one Linux machine.

#[cfg(target_os = "windows")]
pub mod graphics_capture;
pub mod newest;
#[cfg(target_os = "linux")]
pub mod pipewire_stream;
#[cfg(target_os = "linux")]
pub mod portal;
#[cfg(target_os = "macos")]
pub mod screen_capture_kit;
#[cfg(target_os = "linux")]
pub mod wayland;
#[cfg(target_os = "linux")]
pub mod x11;

use std::time::{Duration, Instant};

use confab_frame::i420::I420Layout;
use confab_frame::source::VideoSource;

/// A screen or a window someone could share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShareTarget {
    /// Stable while the screen or window exists: `screen:0`, `window:0x400001`.
    pub id: String,
    pub kind: ShareKind,
    /// What a picker shows: "Entire screen" or the window's title.
    pub name: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareKind {
    Screen,
    Window,
}

/// How a share is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareOptions {
    /// Frames per second at most (a screen's text changes rarely; 30 is the ceiling).
    pub max_fps: u32,
    /// Draw the pointer into the picture, as viewers expect to see what is pointed at.
    pub cursor: bool,
}

impl Default for ShareOptions {
    fn default() -> Self {
        Self {
            max_fps: 30,
            cursor: true,
        }
    }
}

/// The most frames per second a share is captured at.
pub const MAX_FPS: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("screen sharing on {0} is not supported")]
    Unsupported(&'static str),
    #[error("there is no display to share (DISPLAY is not set)")]
    NoDisplay,
    #[error("no screen or window {0} to share")]
    NotFound(String),
    #[error("the X display refused: {0}")]
    X11(String),
    #[error("the desktop's screen-sharing portal refused: {0}")]
    Portal(String),
    #[error("screen sharing was cancelled in the desktop's picker")]
    Cancelled,
    #[error("the shared screen's PipeWire stream failed: {0}")]
    PipeWire(String),
    #[error("Windows Graphics Capture refused: {0}")]
    GraphicsCapture(String),
    #[error(
        "Confab may not record the screen: allow it in System Settings → Privacy & Security → Screen Recording, then share again"
    )]
    NotPermitted,
    #[error("ScreenCaptureKit refused: {0}")]
    ScreenCaptureKit(String),
}

/// A display system's screens and windows.
pub trait ScreenBackend: Send {
    /// What this backend captures: "X11".
    fn name(&self) -> &'static str;
    /// Screens first, then windows, in stacking order from the top.
    fn targets(&self) -> Result<Vec<ShareTarget>, ScreenError>;
    /// Starts capturing the target with `id` (from [`ScreenBackend::targets`]).
    fn open(&self, id: &str, options: ShareOptions) -> Result<Box<dyn VideoSource>, ScreenError>;
}

/// The backend for the display this process runs on: the portal on a Wayland session (not
/// XWayland, which would show only X clients' windows and a black desktop), X11 otherwise.
#[cfg(target_os = "linux")]
pub fn backend() -> Result<Box<dyn ScreenBackend>, ScreenError> {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some()
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|session| session == "wayland");
    if wayland {
        return Ok(Box::new(wayland::PortalScreens::connect(None)?));
    }
    Ok(Box::new(x11::X11Screens::connect(None)?))
}

/// The backend for this desktop: Windows Graphics Capture.
#[cfg(target_os = "windows")]
pub fn backend() -> Result<Box<dyn ScreenBackend>, ScreenError> {
    Ok(Box::new(graphics_capture::GraphicsCaptureScreens::new()?))
}

/// The backend for this desktop: ScreenCaptureKit.
#[cfg(target_os = "macos")]
pub fn backend() -> Result<Box<dyn ScreenBackend>, ScreenError> {
    Ok(Box::new(screen_capture_kit::ScreenCaptureKitScreens::new()?))
}

#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
pub fn backend() -> Result<Box<dyn ScreenBackend>, ScreenError> {
    Err(ScreenError::Unsupported(std::env::consts::OS))
}

/// The size a share's frames have before its first picture says otherwise: what the desktop
/// announced, else 720p.
fn provisional_layout(size: Option<(u32, u32)>) -> I420Layout {
    size.and_then(|(width, height)| I420Layout::new(width, height).ok())
        .unwrap_or(I420Layout {
            width: 1280,
            height: 720,
        })
}

/// A capture's frame clock: at most one frame per interval, as a camera's clock would give
/// them; a reader that fell behind gets its next frame at once and the schedule restarts.
#[derive(Debug)]
pub struct FramePacer {
    interval: Duration,
    next_due: Instant,
}

impl FramePacer {
    pub fn new(max_fps: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / max_fps.clamp(1, MAX_FPS),
            next_due: Instant::now(),
        }
    }

    /// Sleeps until the next frame is due. The sleep is the device's clock, not a wait for
    /// another part of the program.
    pub fn wait(&mut self) {
        let now = Instant::now();
        match self.next_due.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None => self.next_due = now,
        }
        self.next_due += self.interval;
    }
}
