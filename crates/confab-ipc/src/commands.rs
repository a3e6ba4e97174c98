//! Names of the Tauri commands the shell registers. The shell's `#[tauri::command]` functions
//! carry these exact names; the UI invokes them through `ui/src/ipc/`.

/// Returns [`crate::AppInfo`]; takes no arguments.
pub const APP_INFO: &str = "app_info";
/// → `String`: the next invitation link opened with the app (a `confab://join/…` link that
/// started it, or that a second launch handed over); answers once there is one.
pub const NEXT_INVITE: &str = "next_invite";

/// `HostArgs` → `MeetingInfo`.
pub const HOST_MEETING: &str = "host_meeting";
/// `JoinArgs` → `MeetingInfo`.
pub const JOIN_MEETING: &str = "join_meeting";
/// `{after}` → `UpdateBatch`: waits until there is something after `after`.
pub const MEETING_UPDATES: &str = "meeting_updates";
/// Leaves (hosts: the meeting goes on only on a LiveKit deployment; here it ends).
pub const LEAVE_MEETING: &str = "leave_meeting";
/// Hosts: ends the meeting for everyone.
pub const END_MEETING: &str = "end_meeting";
/// `{text, to}`.
pub const SEND_CHAT: &str = "send_chat";
/// `{on}`.
pub const SET_MICROPHONE: &str = "set_microphone";
/// `{on}`.
pub const SET_CAMERA: &str = "set_camera";
/// `{raised}`.
pub const RAISE_HAND: &str = "raise_hand";
/// `{identity}` (hosts).
pub const ADMIT_GUEST: &str = "admit_guest";
/// `{identity}` (hosts).
pub const DENY_GUEST: &str = "deny_guest";
/// Hosts: everyone waiting.
pub const ADMIT_ALL: &str = "admit_all";
/// `{identity, track}` (hosts).
pub const MUTE_PARTICIPANT: &str = "mute_participant";
/// `{identity}` (hosts).
pub const REMOVE_PARTICIPANT: &str = "remove_participant";
/// → `FrameChannel`.
pub const FRAME_CHANNEL: &str = "frame_channel";
/// → `Vec<NearbyMeeting>`: meetings hosts on the LAN list (empty where the app does not
/// search the LAN).
pub const NEARBY_MEETINGS: &str = "nearby_meetings";
/// `{id}`: stops one of our outgoing transfers.
pub const CANCEL_TRANSFER: &str = "cancel_transfer";
/// → `DeviceList`: cameras, microphones and speakers, and the ones picked last time.
pub const LIST_DEVICES: &str = "list_devices";
/// `{slot, id}`: picks a device (`id` null: the system default); remembered between runs.
pub const CHOOSE_DEVICE: &str = "choose_device";
/// → `PreviewStarted`: the picked camera on the frame channel and the picked microphone's
/// level, until `stop_preview` or a meeting starts.
pub const START_PREVIEW: &str = "start_preview";
/// → `f32` from 0 (silence) to 1 (full scale): the previewed microphone's level now.
pub const PREVIEW_LEVEL: &str = "preview_level";
pub const STOP_PREVIEW: &str = "stop_preview";
/// Plays a short chime on the picked speaker; answers once it has played.
pub const PLAY_TEST_SOUND: &str = "play_test_sound";
/// → `Profile`: what the app remembers (the name last used).
pub const PROFILE: &str = "profile";
/// → `Vec<ShareTargetView>`: the screens and windows that can be shared.
pub const LIST_SHARE_TARGETS: &str = "list_share_targets";
/// `{id}`: shares a screen or window (replacing a share under way).
pub const START_SHARE: &str = "start_share";
/// Stops our share: everyone sees it go.
pub const STOP_SHARE: &str = "stop_share";
/// `{emoji}`: a reaction everyone sees on our tile for a moment.
pub const REACT: &str = "react";
/// `{to}`: the user picks files in the system's file chooser; they go to everyone or to the
/// identities in `to` (the page never names a path).
pub const ATTACH_FILES: &str = "attach_files";
/// `{preferences}`: how our microphone is processed and our camera sent; remembered, and
/// applied to a meeting under way (the camera's quality from its next start).
pub const SET_MEDIA_PREFERENCES: &str = "set_media_preferences";
/// `{setting}`: the LiveKit server to host on and its API secret (null: forget it); answers
/// the profile as it now is (the server named, never the secret, which is in the OS keyring).
pub const SET_HOSTING_SERVER: &str = "set_hosting_server";
/// `{on}`: global push-to-talk (Ctrl+Alt+Space held talks while muted, in any app); remembered.
/// Fails, saying why, where the keys cannot be taken (Wayland, another app holding them).
pub const SET_GLOBAL_PUSH_TO_TALK: &str = "set_global_push_to_talk";
/// `{id}`: opens a received file (named by its transfer's id) with the system's app for it.
pub const OPEN_RECEIVED_FILE: &str = "open_received_file";
/// `{id}`: shows the folder of a received file in the file manager.
pub const SHOW_RECEIVED_FILE: &str = "show_received_file";
