//! The devices part of the shell ⇄ UI contract: what can be picked, what was picked, and the
//! check before joining (a camera preview, the microphone's level, a test sound).

use serde::{Deserialize, Serialize};

use crate::MeetingCode;

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
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    /// The name last used to host or join.
    pub name: Option<String>,
    /// Meetings joined lately, newest first (at most [`Profile::MAX_RECENT`]).
    pub recent_meetings: Vec<RecentMeeting>,
    /// How our microphone is processed and our camera sent.
    pub media: MediaPreferences,
    /// The LiveKit server to host on, when one is set up (Settings).
    pub hosting_server: Option<HostingServer>,
    /// Holding [`GLOBAL_PUSH_TO_TALK`] talks while muted, whichever app is in front.
    pub global_push_to_talk: bool,
}

/// The keys of global push-to-talk, as the page names them.
pub const GLOBAL_PUSH_TO_TALK: &str = "Ctrl+Alt+Space";

/// A LiveKit server (self-hosted or LiveKit Cloud) the app can host meetings on. Its API
/// secret is in the OS keyring, never here: this is all the page ever sees of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostingServer {
    /// Where clients connect: `wss://…` (or `ws://` on a trusted network).
    pub url: String,
    pub api_key: String,
}

impl HostingServer {
    /// The keyring account its secret is kept under.
    pub fn account(&self) -> String {
        format!("{}@{}", self.api_key, self.url)
    }
}

/// `set_hosting_server`: a server and its API secret, on their way to the keyring (the only
/// time the secret crosses from the page).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostingServerSetting {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for HostingServerSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostingServerSetting")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &"<hidden>")
            .finish()
    }
}

/// How our microphone is processed and how much of our camera is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MediaPreferences {
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
    pub auto_gain: bool,
    pub video_quality: VideoQuality,
}

impl Default for MediaPreferences {
    /// Everything on, the full camera.
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
            video_quality: VideoQuality::High,
        }
    }
}

/// The largest camera picture we send: 720p (with 360p and 180p beside it), 360p or 180p.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VideoQuality {
    #[default]
    High,
    Medium,
    Low,
}

impl Profile {
    pub const MAX_RECENT: usize = 5;

    /// Puts `meeting` first, once (a meeting joined again moves up).
    pub fn remember_meeting(&mut self, meeting: RecentMeeting) {
        self.recent_meetings
            .retain(|known| known.code != meeting.code);
        self.recent_meetings.insert(0, meeting);
        self.recent_meetings.truncate(Self::MAX_RECENT);
    }
}

/// A meeting joined lately, to join again from the home screen while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentMeeting {
    pub code: MeetingCode,
    pub title: String,
    /// The host's address it was joined at.
    pub host: String,
    /// Unix milliseconds.
    pub joined_at: i64,
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
    fn recent_meetings_keep_the_newest_five_once_each() {
        let mut profile = Profile::default();
        let meeting = |code: &str, at| RecentMeeting {
            code: MeetingCode::parse(code).expect("code"),
            title: String::new(),
            host: "10.0.0.2:7880".into(),
            joined_at: at,
        };
        for (at, code) in [
            "aaa-aaaa-aaa",
            "bbb-bbbb-bbb",
            "ccc-cccc-ccc",
            "ddd-dddd-ddd",
        ]
        .iter()
        .enumerate()
        {
            profile.remember_meeting(meeting(code, at as i64));
        }
        profile.remember_meeting(meeting("aaa-aaaa-aaa", 10));
        profile.remember_meeting(meeting("eee-eeee-eee", 11));
        profile.remember_meeting(meeting("fff-ffff-fff", 12));
        let codes: Vec<String> = profile
            .recent_meetings
            .iter()
            .map(|m| m.code.to_string())
            .collect();
        assert_eq!(
            codes,
            [
                "fff-ffff-fff",
                "eee-eeee-eee",
                "aaa-aaaa-aaa",
                "ddd-dddd-ddd",
                "ccc-cccc-ccc"
            ]
        );
    }

    #[test]
    fn a_profile_saved_before_recent_meetings_existed_still_reads() {
        let old: Profile = serde_json::from_str(r#"{"name":"Ada"}"#).expect("reads");
        assert_eq!(old.name.as_deref(), Some("Ada"));
        assert!(old.recent_meetings.is_empty());
    }

    #[test]
    fn slots_travel_in_camel_case() {
        let json = serde_json::to_string(&DeviceSlot::Microphone).expect("json");
        assert_eq!(json, "\"microphone\"");
    }
}
