//! Commands about the app itself.

use confab_ipc::AppInfo;
use tauri::State;

use crate::error::ShellError;
use crate::invites::Invites;

/// The next invitation link opened with the app (answers once there is one).
#[tauri::command]
pub async fn next_invite(invites: State<'_, Invites>) -> Result<String, ShellError> {
    Ok(invites.next().await)
}

/// Name, version and platform, for the home screen and bug reports.
#[tauri::command]
pub fn app_info(app: tauri::AppHandle) -> Result<AppInfo, ShellError> {
    let package = app.package_info();
    describe(
        &package.name,
        &package.version.to_string(),
        tauri::webview_version().map_err(|error| error.to_string()),
    )
}

fn describe(
    name: &str,
    version: &str,
    webview_version: Result<String, String>,
) -> Result<AppInfo, ShellError> {
    Ok(AppInfo {
        name: name.to_owned(),
        version: version.to_owned(),
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        tauri_version: tauri::VERSION.to_owned(),
        webview_version: webview_version.map_err(ShellError::WebviewVersion)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_build_and_platform() {
        let info = describe("Confab", "0.1.0", Ok("2.50.6".into())).expect("info");
        assert_eq!(info.name, "Confab");
        assert_eq!(info.os, std::env::consts::OS);
        assert_eq!(info.tauri_version, tauri::VERSION);
        assert_eq!(info.webview_version, "2.50.6");
    }

    #[test]
    fn a_missing_webview_is_a_webview_error() {
        let error = describe("Confab", "0.1.0", Err("not found".into())).expect_err("error");
        assert_eq!(error.kind(), confab_ipc::ErrorKind::Webview);
    }
}
