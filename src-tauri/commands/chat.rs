//! Commands about chat, files and presence. Files are sent only from the system's file
//! chooser or a drop on the window (see `send_dropped_files`): no command lets the page name
//! a path to read.

use confab_app::AppCore;
use tauri::State;
use tauri_plugin_dialog::DialogExt;

use crate::error::ShellError;

/// A message to everyone, or privately to the identities in `to`.
#[tauri::command]
pub async fn send_chat(
    core: State<'_, AppCore>,
    text: String,
    to: Vec<String>,
) -> Result<(), ShellError> {
    Ok(core.send_chat(&text, &to).await?)
}

/// A reaction on our tile, for everyone.
#[tauri::command]
pub async fn react(core: State<'_, AppCore>, emoji: String) -> Result<(), ShellError> {
    Ok(core.react(&emoji).await?)
}

#[tauri::command]
pub async fn raise_hand(core: State<'_, AppCore>, raised: bool) -> Result<(), ShellError> {
    Ok(core.raise_hand(raised).await?)
}

/// Opens the system's file chooser and sends what the user picks, to everyone or privately to
/// the identities in `to`. Picking nothing sends nothing.
#[tauri::command]
pub async fn attach_files(
    app: tauri::AppHandle,
    core: State<'_, AppCore>,
    to: Vec<String>,
) -> Result<(), ShellError> {
    let (picked, chosen) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Send files")
        .pick_files(move |files| {
            let _ = picked.send(files);
        });
    let paths: Vec<std::path::PathBuf> = chosen
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|file| file.into_path().ok())
        .collect();
    if paths.is_empty() {
        return Ok(());
    }
    Ok(core.send_files(&paths, &to).await?)
}

/// Opens a received file (by its transfer's id) with the system's app for it.
#[tauri::command]
pub fn open_received_file(core: State<'_, AppCore>, id: String) -> Result<(), ShellError> {
    let path = core.received_file(&id).ok_or(ShellError::UnknownFile)?;
    Ok(crate::opener::open(&path)?)
}

/// Shows the folder of a received file (by its transfer's id).
#[tauri::command]
pub fn show_received_file(core: State<'_, AppCore>, id: String) -> Result<(), ShellError> {
    let path = core.received_file(&id).ok_or(ShellError::UnknownFile)?;
    Ok(crate::opener::show_in_folder(&path)?)
}

/// Stops one of our outgoing transfers.
#[tauri::command]
pub fn cancel_transfer(core: State<'_, AppCore>, id: String) -> bool {
    core.cancel_transfer(&id)
}
