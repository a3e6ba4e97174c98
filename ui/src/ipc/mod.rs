//! Typed bindings to the app shell's commands.
//!
//! Components never call Tauri directly: they take the [`Backend`] from context and call typed
//! methods. Inside the app it is the Tauri bridge; in component tests and in a plain browser it is
//! a [`mock::MockBackend`] whose answers the test chooses.

pub mod mock;
pub mod tauri;

use confab_ipc::commands as command;
use confab_ipc::devices::{
    DeviceList, DeviceSlot, HostingServerSetting, MediaPreferences, PreviewStarted, Profile,
};
use confab_ipc::meeting::{
    FrameChannel, HostArgs, JoinArgs, MeetingInfo, NearbyMeeting, ShareTargetView, UpdateBatch,
};
use confab_ipc::{AppInfo, CommandError};
use leptos::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone)]
pub enum Backend {
    Tauri,
    Mock(mock::MockBackend),
}

#[derive(Debug, Serialize)]
struct Args<T: Serialize> {
    args: T,
}

#[derive(Debug, Serialize)]
struct After {
    after: u64,
}

#[derive(Debug, Serialize)]
struct On {
    on: bool,
}

#[derive(Debug, Serialize)]
struct Raised {
    raised: bool,
}

#[derive(Debug, Serialize)]
struct Reaction<'a> {
    emoji: &'a str,
}

#[derive(Debug, Serialize)]
struct Identity<'a> {
    identity: &'a str,
}

#[derive(Debug, Serialize)]
struct Id<'a> {
    id: &'a str,
}

#[derive(Debug, Serialize)]
struct HostingSetting {
    setting: Option<HostingServerSetting>,
}

#[derive(Debug, Serialize)]
struct Preferences {
    preferences: MediaPreferences,
}

#[derive(Debug, Serialize)]
struct Choose<'a> {
    slot: DeviceSlot,
    id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Mute<'a> {
    identity: &'a str,
    track: &'a str,
}

#[derive(Debug, Serialize)]
struct To<'a> {
    to: &'a [String],
}

#[derive(Debug, Serialize)]
struct Chat<'a> {
    text: &'a str,
    to: &'a [String],
}

impl Backend {
    /// The Tauri bridge inside the app; the preview mock anywhere else.
    pub fn detect() -> Self {
        if tauri::available() {
            Self::Tauri
        } else {
            Self::Mock(mock::MockBackend::preview())
        }
    }

    pub fn is_mock(&self) -> bool {
        matches!(self, Self::Mock(_))
    }

    pub async fn app_info(&self) -> Result<AppInfo, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::APP_INFO, &tauri::NoArgs {}).await,
            Self::Mock(mock) => mock.app_info(),
        }
    }

    /// The next invitation link the app is opened with; answers once there is one.
    pub async fn next_invite(&self) -> Result<String, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::NEXT_INVITE, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.next_invite().await),
        }
    }

    pub async fn host_meeting(&self, args: HostArgs) -> Result<MeetingInfo, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::HOST_MEETING, &Args { args }).await,
            Self::Mock(mock) => mock.host_meeting(args),
        }
    }

    pub async fn join_meeting(&self, args: JoinArgs) -> Result<MeetingInfo, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::JOIN_MEETING, &Args { args }).await,
            Self::Mock(mock) => mock.join_meeting(args),
        }
    }

    /// The meeting's updates after `after`; the shell answers when there are some.
    pub async fn meeting_updates(&self, after: u64) -> Result<UpdateBatch, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::MEETING_UPDATES, &After { after }).await,
            Self::Mock(mock) => Ok(mock.meeting_updates(after).await),
        }
    }

    pub async fn nearby_meetings(&self) -> Result<Vec<NearbyMeeting>, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::NEARBY_MEETINGS, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.nearby_meetings()),
        }
    }

    pub async fn frame_channel(&self) -> Result<FrameChannel, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::FRAME_CHANNEL, &tauri::NoArgs {}).await,
            Self::Mock(mock) => mock.frame_channel(),
        }
    }

    /// What the app remembers about its user.
    pub async fn profile(&self) -> Result<Profile, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::PROFILE, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.profile()),
        }
    }

    pub async fn list_devices(&self) -> Result<DeviceList, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::LIST_DEVICES, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.list_devices()),
        }
    }

    /// Picks a device (`None`: the system default).
    pub async fn choose_device(
        &self,
        slot: DeviceSlot,
        id: Option<&str>,
    ) -> Result<(), CommandError> {
        let args = Choose { slot, id };
        match self {
            Self::Tauri => tauri::invoke::<_, ()>(command::CHOOSE_DEVICE, &args).await,
            Self::Mock(mock) => mock.choose_device(&args, slot, id),
        }
    }

    pub async fn start_preview(&self) -> Result<PreviewStarted, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::START_PREVIEW, &tauri::NoArgs {}).await,
            Self::Mock(mock) => mock.start_preview(),
        }
    }

    /// The previewed microphone's level, 0 to 1.
    pub async fn preview_level(&self) -> Result<f32, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::PREVIEW_LEVEL, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.preview_level()),
        }
    }

    pub async fn set_media_preferences(
        &self,
        preferences: MediaPreferences,
    ) -> Result<(), CommandError> {
        self.act(command::SET_MEDIA_PREFERENCES, &Preferences { preferences })
            .await
    }

    /// Global push-to-talk on or off (refused, saying why, where the keys cannot be taken).
    pub async fn set_global_push_to_talk(&self, on: bool) -> Result<(), CommandError> {
        match self {
            Self::Tauri => {
                tauri::invoke::<_, ()>(command::SET_GLOBAL_PUSH_TO_TALK, &On { on }).await
            }
            Self::Mock(mock) => mock.set_global_push_to_talk(&On { on }, on),
        }
    }

    /// Sets up (None: forgets) the LiveKit server to host on; answers the profile as it now is.
    pub async fn set_hosting_server(
        &self,
        setting: Option<HostingServerSetting>,
    ) -> Result<Profile, CommandError> {
        let args = HostingSetting { setting };
        match self {
            Self::Tauri => tauri::invoke(command::SET_HOSTING_SERVER, &args).await,
            Self::Mock(mock) => mock.set_hosting_server(&args, args.setting.clone()),
        }
    }

    pub async fn stop_preview(&self) -> Result<(), CommandError> {
        self.act(command::STOP_PREVIEW, &tauri::NoArgs {}).await
    }

    pub async fn play_test_sound(&self) -> Result<(), CommandError> {
        self.act(command::PLAY_TEST_SOUND, &tauri::NoArgs {}).await
    }

    /// The screens and windows that can be shared.
    pub async fn list_share_targets(&self) -> Result<Vec<ShareTargetView>, CommandError> {
        match self {
            Self::Tauri => tauri::invoke(command::LIST_SHARE_TARGETS, &tauri::NoArgs {}).await,
            Self::Mock(mock) => Ok(mock.share_targets()),
        }
    }

    pub async fn start_share(&self, id: &str) -> Result<(), CommandError> {
        self.act(command::START_SHARE, &Id { id }).await
    }

    pub async fn stop_share(&self) -> Result<(), CommandError> {
        self.act(command::STOP_SHARE, &tauri::NoArgs {}).await
    }

    pub async fn leave_meeting(&self) -> Result<(), CommandError> {
        self.act(command::LEAVE_MEETING, &tauri::NoArgs {}).await
    }

    pub async fn end_meeting(&self) -> Result<(), CommandError> {
        self.act(command::END_MEETING, &tauri::NoArgs {}).await
    }

    pub async fn set_camera(&self, on: bool) -> Result<(), CommandError> {
        self.act(command::SET_CAMERA, &On { on }).await
    }

    pub async fn set_microphone(&self, on: bool) -> Result<(), CommandError> {
        self.act(command::SET_MICROPHONE, &On { on }).await
    }

    pub async fn raise_hand(&self, raised: bool) -> Result<(), CommandError> {
        self.act(command::RAISE_HAND, &Raised { raised }).await
    }

    pub async fn react(&self, emoji: &str) -> Result<(), CommandError> {
        self.act(command::REACT, &Reaction { emoji }).await
    }

    /// Lets the user pick files (the system's file chooser) and sends them to everyone or to
    /// `to`; the page never sees a path.
    pub async fn attach_files(&self, to: &[String]) -> Result<(), CommandError> {
        self.act(command::ATTACH_FILES, &To { to }).await
    }

    pub async fn send_chat(&self, text: &str, to: &[String]) -> Result<(), CommandError> {
        self.act(command::SEND_CHAT, &Chat { text, to }).await
    }

    /// Stops one of our outgoing transfers.
    pub async fn cancel_transfer(&self, id: &str) -> Result<(), CommandError> {
        match self {
            Self::Tauri => tauri::invoke::<_, bool>(command::CANCEL_TRANSFER, &Id { id })
                .await
                .map(drop),
            Self::Mock(mock) => mock.record(command::CANCEL_TRANSFER, &Id { id }),
        }
    }

    /// Opens a received file with the system's app for it.
    pub async fn open_received_file(&self, id: &str) -> Result<(), CommandError> {
        self.act(command::OPEN_RECEIVED_FILE, &Id { id }).await
    }

    /// Shows a received file's folder.
    pub async fn show_received_file(&self, id: &str) -> Result<(), CommandError> {
        self.act(command::SHOW_RECEIVED_FILE, &Id { id }).await
    }

    pub async fn admit_guest(&self, identity: &str) -> Result<(), CommandError> {
        self.act(command::ADMIT_GUEST, &Identity { identity }).await
    }

    pub async fn admit_all(&self) -> Result<(), CommandError> {
        self.act(command::ADMIT_ALL, &tauri::NoArgs {}).await
    }

    pub async fn deny_guest(&self, identity: &str) -> Result<(), CommandError> {
        self.act(command::DENY_GUEST, &Identity { identity }).await
    }

    pub async fn mute_participant(&self, identity: &str, track: &str) -> Result<(), CommandError> {
        self.act(command::MUTE_PARTICIPANT, &Mute { identity, track })
            .await
    }

    pub async fn remove_participant(&self, identity: &str) -> Result<(), CommandError> {
        self.act(command::REMOVE_PARTICIPANT, &Identity { identity })
            .await
    }

    /// A command that answers nothing but success or an error.
    async fn act<A: Serialize>(&self, name: &'static str, args: &A) -> Result<(), CommandError> {
        match self {
            Self::Tauri => tauri::invoke::<A, ()>(name, args).await,
            Self::Mock(mock) => mock.record(name, args),
        }
    }
}

/// The backend provided by [`crate::App`].
pub fn use_backend() -> Backend {
    use_context::<Backend>().unwrap_or_else(Backend::detect)
}
