//! The tray icon: the meeting goes on when the window closes (it hides instead), and the tray
//! brings it back, mutes or unmutes the microphone, leaves the meeting, or quits. Where the
//! desktop shows no tray, a second launch of the app brings the window back instead.

use confab_app::AppCore;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const SHOW: &str = "show";
const MICROPHONE: &str = "microphone";
const LEAVE: &str = "leave";
const QUIT: &str = "quit";

/// Adds the tray icon; a desktop without a tray gets none (logged), and the app goes on.
pub fn install(app: &AppHandle) {
    if let Err(error) = build(app) {
        tracing::info!(%error, "no tray icon");
    }
}

fn build(app: &AppHandle) -> tauri::Result<()> {
    let items = [
        MenuItem::with_id(app, SHOW, "Show Confab", true, None::<&str>)?,
        MenuItem::with_id(
            app,
            MICROPHONE,
            "Mute or unmute the microphone",
            true,
            None::<&str>,
        )?,
        MenuItem::with_id(app, LEAVE, "Leave the meeting", true, None::<&str>)?,
        MenuItem::with_id(app, QUIT, "Quit Confab", true, None::<&str>)?,
    ];
    let menu = Menu::with_items(app, &[&items[0], &items[1], &items[2], &items[3]])?;
    let mut tray = TrayIconBuilder::with_id("confab")
        .tooltip("Confab")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        SHOW => crate::show_window(app),
        MICROPHONE => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                match app.state::<AppCore>().toggle_microphone().await {
                    Ok(on) => tracing::info!(on, "microphone switched from the tray"),
                    Err(error) => tracing::info!(%error, "microphone not switched"),
                }
            });
        }
        LEAVE => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = app.state::<AppCore>().leave().await {
                    tracing::info!(%error, "leaving from the tray");
                }
            });
        }
        QUIT => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // Leave properly first, so the others see us go (and a hosted meeting ends).
                if let Err(error) = app.state::<AppCore>().leave().await {
                    tracing::info!(%error, "leaving before quitting");
                }
                app.exit(0);
            });
        }
        _ => {}
    }
}

/// Closing the window during a meeting hides it (the meeting goes on; the tray or a second
/// launch brings it back); outside a meeting it closes as usual.
pub fn hide_instead_of_closing(window: &tauri::Window, event: &tauri::WindowEvent) {
    let tauri::WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    if window.app_handle().state::<AppCore>().in_meeting_now() {
        api.prevent_close();
        if let Err(error) = window.hide() {
            tracing::info!(%error, "the window did not hide");
        }
    }
}
