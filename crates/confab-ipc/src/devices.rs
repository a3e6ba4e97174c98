//! The devices part of the shell ⇄ UI contract: what can be picked, what was picked, and the
//! check before joining (a camera preview, the microphone's level, a test sound).

use serde::{Deserialize, Serialize};

/// The id of the preview's frames on the frame channel (a tile shows it like a track).
pub const PREVIEW_TRACK: &str = "preview";

/// Which device a choice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceSlot {
    Camera,
    Microphone,
    Speaker,
}

/// A device a picker offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceOption {
    /// Stable across restarts; what a choice stores.
    pub id: String,
    pub name: String,
    /// The system's default of its kind.
    pub is_default: bool,
}

/// The user's picks; `None` means "the system default" (and follow it when it changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSelection {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

impl DeviceSelection {
    pub fn get(&self, slot: DeviceSlot) -> Option<&str> {
        match slot {
            DeviceSlot::Camera => self.camera.as_deref(),
            DeviceSlot::Microphone => self.microphone.as_deref(),
            DeviceSlot::Speaker => self.speaker.as_deref(),
        }
    }

    pub fn set(&mut self, slot: DeviceSlot, id: Option<String>) {
        match slot {
            DeviceSlot::Camera => self.camera = id,
            DeviceSlot::Microphone => self.microphone = id,
            DeviceSlot::Speaker => self.speaker = id,
        }
    }
}

/// `list_devices`: what is connected now, and what the user picked last time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceList {
    pub cameras: Vec<DeviceOption>,
    pub microphones: Vec<DeviceOption>,
    pub speakers: Vec<DeviceOption>,
    pub chosen: DeviceSelection,
}

impl DeviceList {
    pub fn options(&self, slot: DeviceSlot) -> &[DeviceOption] {
        match slot {
            DeviceSlot::Camera => &self.cameras,
            DeviceSlot::Microphone => &self.microphones,
            DeviceSlot::Speaker => &self.speakers,
        }
    }
}

/// `start_preview`: what the check shows. A device that could not start is named with why;
/// the other one still runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewStarted {
    /// [`PREVIEW_TRACK`] while the camera runs.
    pub camera_track: Option<String>,
    pub camera_error: Option<String>,
    pub microphone_error: Option<String>,
}

/// What the app remembers about its user between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The name last used to host or join.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_reads_back_what_was_set_per_slot() {
        let mut selection = DeviceSelection::default();
        selection.set(DeviceSlot::Speaker, Some("sink".into()));
        selection.set(DeviceSlot::Camera, Some("cam".into()));
        assert_eq!(selection.get(DeviceSlot::Speaker), Some("sink"));
        assert_eq!(selection.get(DeviceSlot::Camera), Some("cam"));
        assert_eq!(selection.get(DeviceSlot::Microphone), None);
    }

    #[test]
    fn slots_travel_in_camel_case() {
        let json = serde_json::to_string(&DeviceSlot::Microphone).expect("json");
        assert_eq!(json, "\"microphone\"");
    }
}
