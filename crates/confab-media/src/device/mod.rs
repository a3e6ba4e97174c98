//! The user's devices: listing microphones, speakers and cameras with stable ids, watching them come
//! and go, remembering the last choice, and the cpal streams behind the microphone and the
//! speaker, and the camera. No device at all is a normal state (the user joins muted), never a panic.

pub mod audio;
pub mod camera;
pub mod follow;
pub mod preferences;
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd"))]
mod pulse_cookie;
pub mod watcher;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Microphone,
    Speaker,
    Camera,
}

/// One device as the user picks it: `id` is stable across restarts (PulseAudio's sink or
/// source name, the ALSA PCM name, CoreAudio's UID, WASAPI's endpoint id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub is_default: bool,
}

/// Which device a stream should use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// Whatever the system's default is (and follow it when the chosen one goes away).
    #[default]
    SystemDefault,
    Id(String),
}

impl DeviceChoice {
    pub fn from_saved(id: Option<&str>) -> Self {
        id.map_or(Self::SystemDefault, |id| Self::Id(id.to_owned()))
    }
}

/// What changed among the devices, or what a stream did about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    Added(DeviceInfo),
    Removed(DeviceInfo),
    DefaultChanged {
        kind: DeviceKind,
        id: String,
    },
    /// A stream lost its device (unplugged, or it stopped delivering) and now uses `to`.
    Switched {
        kind: DeviceKind,
        from: String,
        to: DeviceInfo,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("the audio system is not available: {0}")]
    Host(String),
    #[error("no {0:?} is connected")]
    NoDevice(DeviceKind),
    #[error("the {kind:?} {id:?} is not connected")]
    NotFound { kind: DeviceKind, id: String },
    #[error("cannot open the {kind:?} {name:?}: {reason}")]
    Open {
        kind: DeviceKind,
        name: String,
        reason: String,
    },
    #[error("cannot start the audio thread: {0}")]
    Thread(std::io::Error),
}
