//! The Confab desktop app shell: it wires the core crates to the Leptos UI and does nothing else.
//!
//! Commands (intents from the UI) live in `commands/`, one module per domain; errors cross the
//! IPC boundary as `confab_ipc::CommandError` (`{kind, message}`). Media never passes through
//! here as JSON: frames will reach the webview on a binary side channel.

mod commands;
mod error;

pub use error::ShellError;

/// Starts the app and blocks until the last window closes.
pub fn run() -> Result<(), tauri::Error> {
    init_logging();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting Confab");
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![commands::app::app_info])
        .run(tauri::generate_context!())
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (e.g. in tests) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
