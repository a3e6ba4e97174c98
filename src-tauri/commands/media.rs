//! Commands about our own camera and microphone.

use confab_app::AppCore;
use tauri::State;

use crate::error::ShellError;

#[tauri::command]
pub async fn set_camera(core: State<'_, AppCore>, on: bool) -> Result<(), ShellError> {
    Ok(core.set_camera(on).await?)
}

#[tauri::command]
pub async fn set_microphone(core: State<'_, AppCore>, on: bool) -> Result<(), ShellError> {
    Ok(core.set_microphone(on).await?)
}
