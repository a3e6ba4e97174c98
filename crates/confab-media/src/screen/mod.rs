//! Screen sharing: what can be shared (whole screens and single windows) and capturing one
//! of them as a [`VideoSource`], at its native resolution, paced to at most 30 fps, with the
//! cursor drawn in.
//!
//! One trait, one backend per display system. Built and tested here: X11 (the core
//! protocol's `GetImage` plus XFixes for the cursor), tested against Xvfb. Not built yet, and
//! reported as such by [`backend`] rather than failing later: Wayland (xdg-desktop-portal +
//! PipeWire), macOS (ScreenCaptureKit) and Windows (Graphics Capture).

pub mod x11;

use crate::video::source::VideoSource;

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
    #[error("screen sharing on {0} is not built yet")]
    Unsupported(&'static str),
    #[error("there is no display to share (DISPLAY is not set)")]
    NoDisplay,
    #[error("no screen or window {0} to share")]
    NotFound(String),
    #[error("the X display refused: {0}")]
    X11(String),
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

/// The backend for the display this process runs on.
pub fn backend() -> Result<Box<dyn ScreenBackend>, ScreenError> {
    if cfg!(target_os = "macos") {
        return Err(ScreenError::Unsupported("macOS (ScreenCaptureKit)"));
    }
    if cfg!(target_os = "windows") {
        return Err(ScreenError::Unsupported("Windows (Graphics Capture)"));
    }
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some()
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|session| session == "wayland");
    if wayland {
        // XWayland would show only X clients' windows and a black desktop: refuse rather
        // than share the wrong picture.
        return Err(ScreenError::Unsupported(
            "Wayland (xdg-desktop-portal + PipeWire)",
        ));
    }
    Ok(Box::new(x11::X11Screens::connect(None)?))
}
