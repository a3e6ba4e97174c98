//! A backend that answers from memory: for component tests and for opening the UI in a plain
//! browser (`trunk serve`), where there is no app shell. A test scripts the meeting: what
//! hosting or joining answers, the updates that follow, and what a command returns; and reads
//! back which commands the UI sent.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use confab_ipc::devices::{
    DeviceList, DeviceOption, DeviceSlot, HostingServer, HostingServerSetting, PREVIEW_TRACK,
    PreviewStarted, Profile,
};
use confab_ipc::meeting::{
    FrameChannel, HostArgs, JoinArgs, MeetingInfo, MeetingUpdate, NearbyMeeting, ShareTargetView,
    UpdateBatch,
};
use confab_ipc::{AppInfo, CommandError, ErrorKind, MeetingCode};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct MockBackend {
    app_info: Result<AppInfo, CommandError>,
    meeting: Arc<Mutex<MockMeeting>>,
}

#[derive(Debug, Default)]
struct MockMeeting {
    /// What `host_meeting` / `join_meeting` answer (a preview meeting when unset).
    answer: Option<Result<MeetingInfo, CommandError>>,
    updates: Vec<MeetingUpdate>,
    /// Every command the UI sent, as `name args-json`.
    sent: Vec<String>,
    hosted: Option<HostArgs>,
    joined: Option<JoinArgs>,
    failing: Option<(String, CommandError)>,
    nearby: Vec<NearbyMeeting>,
    profile: Profile,
    /// Invitation links "opened with the app", not yet taken.
    invites: std::collections::VecDeque<String>,
    devices: Option<DeviceList>,
    /// What `start_preview` answers (the camera and the microphone running when unset).
    preview: Option<PreviewStarted>,
    level: f32,
}

impl MockBackend {
    pub fn new(app_info: Result<AppInfo, CommandError>) -> Self {
        Self {
            app_info,
            meeting: Arc::default(),
        }
    }

    /// What a browser preview shows: clearly not a real installation.
    pub fn preview() -> Self {
        Self::new(Ok(AppInfo {
            name: "Confab".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            os: "browser".into(),
            arch: "wasm32".into(),
            tauri_version: "none".into(),
            webview_version: "preview".into(),
        }))
    }

    fn meeting(&self) -> MutexGuard<'_, MockMeeting> {
        self.meeting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn app_info(&self) -> Result<AppInfo, CommandError> {
        self.app_info.clone()
    }

    /// What hosting or joining answers.
    pub fn answer_meeting(&self, answer: Result<MeetingInfo, CommandError>) {
        self.meeting().answer = Some(answer);
    }

    /// Meetings the LAN lists.
    pub fn list_nearby(&self, nearby: Vec<NearbyMeeting>) {
        self.meeting().nearby = nearby;
    }

    pub fn nearby_meetings(&self) -> Vec<NearbyMeeting> {
        self.meeting().nearby.clone()
    }

    /// An invitation link opened with the app.
    pub fn open_invite(&self, link: &str) {
        self.meeting().invites.push_back(link.to_owned());
    }

    /// The next invitation link, once there is one (polled: a mock has no one to wait on).
    pub async fn next_invite(&self) -> String {
        loop {
            if let Some(link) = self.meeting().invites.pop_front() {
                return link;
            }
            crate::time::sleep_ms(20).await;
        }
    }

    /// What the app remembers.
    pub fn remember(&self, profile: Profile) {
        self.meeting().profile = profile;
    }

    pub fn profile(&self) -> Profile {
        self.meeting().profile.clone()
    }

    /// Records the command and keeps the choice in the profile, as the shell does.
    pub fn set_global_push_to_talk<A: Serialize>(
        &self,
        args: &A,
        on: bool,
    ) -> Result<(), CommandError> {
        self.record(confab_ipc::commands::SET_GLOBAL_PUSH_TO_TALK, args)?;
        self.meeting().profile.global_push_to_talk = on;
        Ok(())
    }

    /// Records the command; keeps the server (never the secret) in the profile, as the shell
    /// does.
    pub fn set_hosting_server<A: Serialize>(
        &self,
        args: &A,
        setting: Option<HostingServerSetting>,
    ) -> Result<Profile, CommandError> {
        self.record(confab_ipc::commands::SET_HOSTING_SERVER, args)?;
        let mut meeting = self.meeting();
        meeting.profile.hosting_server = setting.map(|setting| HostingServer {
            url: setting.url,
            api_key: setting.api_key,
        });
        Ok(meeting.profile.clone())
    }

    /// The devices connected (a camera, a microphone and a speaker when unset).
    pub fn connect_devices(&self, devices: DeviceList) {
        self.meeting().devices = Some(devices);
    }

    pub fn list_devices(&self) -> DeviceList {
        self.meeting()
            .devices
            .clone()
            .unwrap_or_else(preview_devices)
    }

    /// Records the choice and keeps it, as the shell remembers it.
    pub fn choose_device<A: Serialize>(
        &self,
        args: &A,
        slot: DeviceSlot,
        id: Option<&str>,
    ) -> Result<(), CommandError> {
        self.record(confab_ipc::commands::CHOOSE_DEVICE, args)?;
        let mut meeting = self.meeting();
        let mut devices = meeting.devices.clone().unwrap_or_else(preview_devices);
        devices.chosen.set(slot, id.map(str::to_owned));
        meeting.devices = Some(devices);
        Ok(())
    }

    /// What opening the device check answers.
    pub fn answer_preview(&self, started: PreviewStarted) {
        self.meeting().preview = Some(started);
    }

    pub fn start_preview(&self) -> Result<PreviewStarted, CommandError> {
        self.record(confab_ipc::commands::START_PREVIEW, &())?;
        Ok(self.meeting().preview.clone().unwrap_or(PreviewStarted {
            camera_track: Some(PREVIEW_TRACK.into()),
            camera_error: None,
            microphone_error: None,
        }))
    }

    /// The microphone level the check shows from now on.
    pub fn set_level(&self, level: f32) {
        self.meeting().level = level;
    }

    pub fn preview_level(&self) -> f32 {
        self.meeting().level
    }

    /// The screens and windows the share picker lists: a screen and a window.
    pub fn share_targets(&self) -> Vec<ShareTargetView> {
        let target = |id: &str, is_screen, name: &str| ShareTargetView {
            id: id.into(),
            is_screen,
            name: name.into(),
            width: 1920,
            height: 1080,
        };
        vec![
            target("screen:0", true, "Entire screen"),
            target("window:0x400001", false, "Slides"),
        ]
    }

    /// An update the meeting sends the UI.
    pub fn push_update(&self, update: MeetingUpdate) {
        self.meeting().updates.push(update);
    }

    /// Makes the command `name` fail with `error`.
    pub fn fail(&self, name: &str, error: CommandError) {
        self.meeting().failing = Some((name.to_owned(), error));
    }

    /// The commands the UI sent, as `name {args as JSON}`.
    pub fn sent(&self) -> Vec<String> {
        self.meeting().sent.clone()
    }

    pub fn hosted(&self) -> Option<HostArgs> {
        self.meeting().hosted.clone()
    }

    pub fn joined(&self) -> Option<JoinArgs> {
        self.meeting().joined.clone()
    }

    fn preview_meeting(waiting: bool, is_host: bool) -> MeetingInfo {
        MeetingInfo {
            code: MeetingCode::parse("abc-defg-hij").expect("a valid code"),
            title: "Preview".into(),
            invite: is_host.then(|| "confab://join/abc-defg-hij?host=127.0.0.1:7880".into()),
            identity: "me".into(),
            is_host,
            waiting,
        }
    }

    pub fn host_meeting(&self, args: HostArgs) -> Result<MeetingInfo, CommandError> {
        let mut meeting = self.meeting();
        meeting.hosted = Some(args);
        meeting
            .answer
            .clone()
            .unwrap_or_else(|| Ok(Self::preview_meeting(false, true)))
    }

    pub fn join_meeting(&self, args: JoinArgs) -> Result<MeetingInfo, CommandError> {
        let mut meeting = self.meeting();
        meeting.joined = Some(args);
        meeting
            .answer
            .clone()
            .unwrap_or_else(|| Ok(Self::preview_meeting(true, false)))
    }

    /// The updates after `after`, once there are some (polled: a mock has no one to wait on).
    pub async fn meeting_updates(&self, after: u64) -> UpdateBatch {
        loop {
            {
                let meeting = self.meeting();
                let next = meeting.updates.len() as u64;
                if next > after {
                    return UpdateBatch {
                        updates: meeting.updates[after as usize..].to_vec(),
                        next,
                    };
                }
            }
            crate::time::sleep_ms(20).await;
        }
    }

    pub fn frame_channel(&self) -> Result<FrameChannel, CommandError> {
        Ok(FrameChannel {
            base_url: "ws://127.0.0.1:9".into(),
            token: "preview".into(),
        })
    }

    pub fn record<A: Serialize>(&self, name: &str, args: &A) -> Result<(), CommandError> {
        let mut meeting = self.meeting();
        let json = serde_json::to_string(args).unwrap_or_default();
        meeting.sent.push(format!("{name} {json}"));
        match &meeting.failing {
            Some((failing, error)) if failing == name => Err(error.clone()),
            _ => Ok(()),
        }
    }
}

/// A camera, a microphone and two speakers, nothing picked.
fn preview_devices() -> DeviceList {
    let device = |id: &str, name: &str, is_default| DeviceOption {
        id: id.into(),
        name: name.into(),
        is_default,
    };
    DeviceList {
        cameras: vec![device("cam", "Preview Camera", true)],
        microphones: vec![device("mic", "Preview Microphone", true)],
        speakers: vec![
            device("speakers", "Preview Speakers", true),
            device("headset", "Preview Headset", false),
        ],
        chosen: Default::default(),
    }
}

/// An error as the shell would send it.
pub fn meeting_error(message: &str) -> CommandError {
    CommandError::new(ErrorKind::Meeting, message)
}
