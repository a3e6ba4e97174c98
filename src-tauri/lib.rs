//! The Confab desktop app shell: it wires the core crates to the Leptos UI and does nothing else.
//!
//! Commands (intents from the UI) live in `commands/`, one module per domain; errors cross the
//! IPC boundary as `confab_ipc::CommandError` (`{kind, message}`). The meeting's logic is
//! `confab_app::AppCore`, managed as state; media never passes through here as JSON: tiles
//! read decoded frames from its loopback frame channel.

mod commands;
mod error;
mod global_ptt;
mod invites;
mod notices;
mod opener;
mod tray;

use confab_app::{AppCore, CoreOptions};
use tauri::Manager;
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_window_state::StateFlags;

use crate::invites::Invites;

pub use error::ShellError;

/// Starts the app and blocks until the last window closes.
pub fn run() -> Result<(), tauri::Error> {
    init_logging();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting Confab");
    let mut builder = tauri::Builder::default();
    // One app per desktop session: a second launch (an invitation link clicked) hands its
    // link to this one and exits. `CONFAB_ALLOW_SECOND_INSTANCE=1` lets two run side by side
    // (the end-to-end tests' host and guest).
    let second_allowed =
        std::env::var("CONFAB_ALLOW_SECOND_INSTANCE").is_ok_and(|value| value == "1");
    if !second_allowed {
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_window(app);
        }));
    }
    builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        // The window opens where and as large as it was left (never hidden: a window closed
        // into the tray during a meeting comes back visible).
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(StateFlags::SIZE | StateFlags::POSITION | StateFlags::MAXIMIZED)
                .build(),
        )
        .setup(|app| {
            // Received files go to the Downloads folder (CONFAB_DOWNLOAD_DIR overrides it,
            // so test instances keep to their own).
            let downloads = std::env::var_os("CONFAB_DOWNLOAD_DIR")
                .filter(|dir| !dir.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| app.path().download_dir().ok())
                .unwrap_or_else(std::env::temp_dir);
            app.manage(AppCore::new(CoreOptions::from_env(downloads)));
            app.manage(Invites::default());
            follow_push_to_talk(app.handle());
            follow_invitation_links(app.handle());
            tray::install(app.handle());
            notices::follow(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::app::next_invite,
            commands::meeting::host_meeting,
            commands::meeting::join_meeting,
            commands::meeting::meeting_updates,
            commands::meeting::leave_meeting,
            commands::meeting::end_meeting,
            commands::meeting::admit_guest,
            commands::meeting::admit_all,
            commands::meeting::deny_guest,
            commands::meeting::mute_participant,
            commands::meeting::remove_participant,
            commands::meeting::frame_channel,
            commands::meeting::nearby_meetings,
            commands::media::set_camera,
            commands::media::set_microphone,
            commands::media::list_devices,
            commands::media::choose_device,
            commands::media::start_preview,
            commands::media::preview_level,
            commands::media::stop_preview,
            commands::media::play_test_sound,
            commands::media::profile,
            commands::media::set_media_preferences,
            commands::media::set_hosting_server,
            commands::media::set_global_push_to_talk,
            commands::media::list_share_targets,
            commands::media::start_share,
            commands::media::stop_share,
            commands::chat::send_chat,
            commands::chat::raise_hand,
            commands::chat::react,
            commands::chat::cancel_transfer,
            commands::chat::open_received_file,
            commands::chat::show_received_file,
            commands::chat::attach_files,
        ])
        .on_window_event(|window, event| {
            send_dropped_files(window, event);
            tray::hide_instead_of_closing(window, event);
        })
        .run(tauri::generate_context!())
}

/// Invitation links that started the app, or that a later launch hands over, go to the UI's
/// join form.
fn follow_invitation_links(app: &tauri::AppHandle) {
    let offer = |app: &tauri::AppHandle, urls: &[tauri::Url]| {
        let invites = app.state::<Invites>();
        for url in urls {
            invites.offer(url.as_str());
        }
    };
    match app.deep_link().get_current() {
        Ok(Some(urls)) => offer(app, &urls),
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "no link at launch"),
    }
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        offer(&handle, &event.urls());
        show_window(&handle);
    });
}

/// Global push-to-talk's keys, grabbed at launch when the user turned it on; their presses go
/// to the meeting in order.
fn follow_push_to_talk(app: &tauri::AppHandle) {
    let (presses, mut pressed) = tokio::sync::mpsc::unbounded_channel();
    let keys = global_ptt::PushToTalkKeys::new(presses);
    if app.state::<AppCore>().profile().global_push_to_talk
        && let Err(error) = keys.set(true)
    {
        tracing::warn!(%error, "global push-to-talk is off");
    }
    app.manage(keys);
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(down) = pressed.recv().await {
            if let Err(error) = handle.state::<AppCore>().push_to_talk(down).await {
                tracing::info!(%error, "push-to-talk");
            }
        }
    });
}

/// Brings the main window to the front (a second launch, a link opened, the tray).
pub(crate) fn show_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Files dropped on the window during a meeting go to everyone in it.
fn send_dropped_files(window: &tauri::Window, event: &tauri::WindowEvent) {
    let tauri::WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = event else {
        return;
    };
    let (app, paths) = (window.app_handle().clone(), paths.clone());
    tauri::async_runtime::spawn(async move {
        let core = app.state::<AppCore>();
        if let Err(error) = core.send_files(&paths, &[]).await {
            tracing::info!(%error, "dropped files not sent");
        }
    });
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
