//! Typed bindings to the app shell's commands.
//!
//! Components never call Tauri directly: they take the [`Backend`] from context and call typed
//! methods. Inside the app it is the Tauri bridge; in component tests and in a plain browser it is
//! a [`mock::MockBackend`] whose answers the test chooses.

pub mod mock;
pub mod tauri;

use confab_ipc::{AppInfo, CommandError};
use leptos::prelude::*;

#[derive(Debug, Clone)]
pub enum Backend {
    Tauri,
    Mock(mock::MockBackend),
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
            Self::Tauri => tauri::invoke(confab_ipc::commands::APP_INFO, &tauri::NoArgs {}).await,
            Self::Mock(mock) => mock.app_info(),
        }
    }
}

/// The backend provided by [`crate::App`].
pub fn use_backend() -> Backend {
    use_context::<Backend>().unwrap_or_else(Backend::detect)
}
