//! The desktop app's logic, without the window: what "Host a meeting", "Join", the meeting
//! screen's buttons and its tiles need from the core crates, as an [`AppCore`] the Tauri
//! shell calls from its commands. Kept apart from the shell so it is tested headless, with
//! several instances in one process.
//!
//! [`core`] hosts and joins and follows the meeting into the UI's updates ([`updates`]),
//! [`roster`] keeps who shows what, [`media`] publishes our camera and microphone and decodes
//! what we receive, [`frames`] serves decoded frames to the webview on a loopback WebSocket,
//! [`hosting`] runs this app's own SFU and conference API, [`device_check`] lists devices and
//! previews the picked ones before joining, [`settings`] remembers picks and the name.

pub mod core;
pub mod device_check;
pub mod frames;
pub mod hosting;
pub mod media;
pub mod roster;
pub mod secrets;
pub mod settings;
pub mod updates;

pub use core::{AppCore, CoreError, CoreOptions};

/// The project's poison-tolerant lock.
pub(crate) use confab_media::sync::lock;

/// Now, in Unix milliseconds by this computer's clock.
pub(crate) fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
