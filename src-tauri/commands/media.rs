//! Commands about our own camera, microphone, speaker and screen: on and off in a meeting,
//! sharing, and the device check before one.

use confab_app::AppCore;
use confab_ipc::devices::{
    DeviceList, DeviceSlot, HostingServerSetting, MediaPreferences, PreviewStarted, Profile,
};
use confab_ipc::meeting::ShareTargetView;
use tauri::State;

use crate::error::ShellError;
use crate::global_ptt::PushToTalkKeys;

#[tauri::command]
pub async fn set_camera(core: State<'_, AppCore>, on: bool) -> Result<(), ShellError> {
    Ok(core.set_camera(on).await?)
}

#[tauri::command]
pub async fn set_microphone(core: State<'_, AppCore>, on: bool) -> Result<(), ShellError> {
    Ok(core.set_microphone(on).await?)
}

/// Cameras, microphones and speakers connected now, and the ones picked.
#[tauri::command]
pub async fn list_devices(core: State<'_, AppCore>) -> Result<DeviceList, ShellError> {
    Ok(core.list_devices().await)
}

/// Picks a device (`id` null: the system default), remembered between runs.
#[tauri::command]
pub async fn choose_device(
    core: State<'_, AppCore>,
    slot: DeviceSlot,
    id: Option<String>,
) -> Result<(), ShellError> {
    Ok(core.choose_device(slot, id).await?)
}

/// Opens the device check: the picked camera's picture and microphone's level.
#[tauri::command]
pub async fn start_preview(core: State<'_, AppCore>) -> Result<PreviewStarted, ShellError> {
    Ok(core.start_preview().await?)
}

#[tauri::command]
pub async fn preview_level(core: State<'_, AppCore>) -> Result<f32, ShellError> {
    Ok(core.preview_level().await)
}

#[tauri::command]
pub async fn stop_preview(core: State<'_, AppCore>) -> Result<(), ShellError> {
    core.stop_preview().await;
    Ok(())
}

/// Plays a chime on the picked speaker.
#[tauri::command]
pub async fn play_test_sound(core: State<'_, AppCore>) -> Result<(), ShellError> {
    Ok(core.play_test_sound().await?)
}

/// What the app remembers about its user (the name last used).
#[tauri::command]
pub fn profile(core: State<'_, AppCore>) -> Profile {
    core.profile()
}

/// The screens and windows that can be shared.
#[tauri::command]
pub async fn list_share_targets(
    core: State<'_, AppCore>,
) -> Result<Vec<ShareTargetView>, ShellError> {
    Ok(core.share_targets().await?)
}

/// Shares a screen or window (replacing a share under way).
#[tauri::command]
pub async fn start_share(core: State<'_, AppCore>, id: String) -> Result<(), ShellError> {
    Ok(core.start_share(&id).await?)
}

#[tauri::command]
pub async fn stop_share(core: State<'_, AppCore>) -> Result<(), ShellError> {
    Ok(core.stop_share().await?)
}

/// How the microphone is processed and the camera sent (remembered; applied to a meeting under
/// way).
#[tauri::command]
pub async fn set_media_preferences(
    core: State<'_, AppCore>,
    preferences: MediaPreferences,
) -> Result<(), ShellError> {
    Ok(core.set_media_preferences(preferences).await?)
}

/// Sets up (or, with None, forgets) the LiveKit server to host on. The secret goes to the OS
/// keyring; the profile returned (and every later one) names the server, never the secret.
#[tauri::command]
pub async fn set_hosting_server(
    core: State<'_, AppCore>,
    setting: Option<HostingServerSetting>,
) -> Result<Profile, ShellError> {
    Ok(core.set_hosting_server(setting).await?)
}

/// Global push-to-talk on or off (remembered). Turning it on fails, saying why, where the keys
/// cannot be taken.
#[tauri::command]
pub fn set_global_push_to_talk(
    core: State<'_, AppCore>,
    keys: State<'_, PushToTalkKeys>,
    on: bool,
) -> Result<(), ShellError> {
    keys.set(on)?;
    Ok(core.set_global_push_to_talk(on)?)
}
