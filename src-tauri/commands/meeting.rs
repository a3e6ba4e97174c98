//! Commands about the meeting: host, join, leave, end, follow its updates, and the host's
//! controls. Each one is a call on the app core; nothing here decides anything.

use confab_app::AppCore;
use confab_ipc::meeting::{
    FrameChannel, HostArgs, JoinArgs, MeetingInfo, NearbyMeeting, UpdateBatch,
};
use tauri::State;

use crate::error::ShellError;

#[tauri::command]
pub async fn host_meeting(
    core: State<'_, AppCore>,
    args: HostArgs,
) -> Result<MeetingInfo, ShellError> {
    Ok(core.host(args).await?)
}

#[tauri::command]
pub async fn join_meeting(
    core: State<'_, AppCore>,
    args: JoinArgs,
) -> Result<MeetingInfo, ShellError> {
    Ok(core.join(args).await?)
}

/// The updates after `after`; waits until there is one.
#[tauri::command]
pub async fn meeting_updates(
    core: State<'_, AppCore>,
    after: u64,
) -> Result<UpdateBatch, ShellError> {
    Ok(core.updates(after).await)
}

#[tauri::command]
pub async fn leave_meeting(core: State<'_, AppCore>) -> Result<(), ShellError> {
    Ok(core.leave().await?)
}

#[tauri::command]
pub async fn end_meeting(core: State<'_, AppCore>) -> Result<(), ShellError> {
    Ok(core.end().await?)
}

#[tauri::command]
pub async fn admit_guest(core: State<'_, AppCore>, identity: String) -> Result<(), ShellError> {
    Ok(core.admit(Some(&identity)).await?)
}

#[tauri::command]
pub async fn admit_all(core: State<'_, AppCore>) -> Result<(), ShellError> {
    Ok(core.admit(None).await?)
}

#[tauri::command]
pub async fn deny_guest(core: State<'_, AppCore>, identity: String) -> Result<(), ShellError> {
    Ok(core.deny(&identity).await?)
}

#[tauri::command]
pub async fn mute_participant(
    core: State<'_, AppCore>,
    identity: String,
    track: String,
) -> Result<(), ShellError> {
    Ok(core.mute(&identity, &track).await?)
}

#[tauri::command]
pub async fn remove_participant(
    core: State<'_, AppCore>,
    identity: String,
) -> Result<(), ShellError> {
    Ok(core.remove(&identity).await?)
}

/// Meetings hosts on the LAN list, for the home screen.
#[tauri::command]
pub async fn nearby_meetings(core: State<'_, AppCore>) -> Result<Vec<NearbyMeeting>, ShellError> {
    Ok(core.nearby().await)
}

/// Where the tiles read decoded frames.
#[tauri::command]
pub async fn frame_channel(core: State<'_, AppCore>) -> Result<FrameChannel, ShellError> {
    Ok(core.frame_channel().await?)
}
