//! Names of the Tauri commands the shell registers. The shell's `#[tauri::command]` functions
//! carry these exact names; the UI invokes them through `ui/src/ipc/`.

/// Returns [`crate::AppInfo`]; takes no arguments.
pub const APP_INFO: &str = "app_info";
