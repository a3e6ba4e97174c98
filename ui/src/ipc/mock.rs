//! A backend that answers from memory: for component tests and for opening the UI in a plain
//! browser (`trunk serve`), where there is no app shell.

use confab_ipc::{AppInfo, CommandError};

#[derive(Debug, Clone)]
pub struct MockBackend {
    app_info: Result<AppInfo, CommandError>,
}

impl MockBackend {
    pub fn new(app_info: Result<AppInfo, CommandError>) -> Self {
        Self { app_info }
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

    pub fn app_info(&self) -> Result<AppInfo, CommandError> {
        self.app_info.clone()
    }
}
