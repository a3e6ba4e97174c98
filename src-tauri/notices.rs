//! Desktop notifications for what needs the user while the window is not in front: someone
//! waiting to be let in (hosts), a private message. The shell follows the meeting's update
//! log beside the UI and notifies only when the main window is not focused.

use std::collections::HashSet;

use confab_app::AppCore;
use confab_ipc::meeting::MeetingUpdate;
use tauri::{AppHandle, Manager};

/// The longest message text a notification shows.
const PREVIEW_CHARS: usize = 80;

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// What has been announced already, so each guest is announced once per wait.
#[derive(Debug, Default)]
pub struct Notices {
    announced_guests: HashSet<String>,
}

impl Notices {
    /// The notifications `update` calls for; `me` is our own identity.
    pub fn for_update(&mut self, update: &MeetingUpdate, me: Option<&str>) -> Vec<Notice> {
        match update {
            MeetingUpdate::WaitingRoom { guests, .. } => {
                let waiting: HashSet<String> = guests.iter().map(|g| g.identity.clone()).collect();
                let new: Vec<Notice> = guests
                    .iter()
                    .filter(|guest| !self.announced_guests.contains(&guest.identity))
                    .map(|guest| Notice {
                        title: format!("{} is waiting to join", guest.name),
                        body: "Let them in from the people panel.".to_owned(),
                    })
                    .collect();
                // Someone who left the waiting room and knocks again is announced again.
                self.announced_guests = waiting;
                new
            }
            MeetingUpdate::Chat { line } if line.private && Some(line.from.as_str()) != me => {
                vec![Notice {
                    title: format!("Private message from {}", line.from_name),
                    body: preview(&line.text),
                }]
            }
            MeetingUpdate::Ended { .. } => {
                self.announced_guests.clear();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

fn preview(text: &str) -> String {
    let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        preview.push('…');
    }
    preview
}

/// Follows the meeting's updates for the app's lifetime, notifying while the window is not
/// focused.
pub fn follow(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut notices = Notices::default();
        let mut next = 0;
        loop {
            let core = app.state::<AppCore>();
            let batch = core.updates(next).await;
            next = batch.next;
            let me = core.info().await.map(|info| info.identity);
            let focused = app
                .get_webview_window("main")
                .and_then(|window| window.is_focused().ok())
                .unwrap_or(false);
            for update in &batch.updates {
                for notice in notices.for_update(update, me.as_deref()) {
                    if !focused && let Err(error) = show(&notice).await {
                        tracing::info!(%error, "notification not shown");
                    }
                }
            }
        }
    });
}

/// Hands `notice` to the desktop's notification service.
///
/// On Linux this talks D-Bus asynchronously: notify-rust's blocking `show` starts a runtime
/// of its own, which panics on one of ours (zbus is built with tokio for the screen portal).
#[cfg(all(unix, not(target_os = "macos")))]
pub async fn show(notice: &Notice) -> Result<(), notify_rust::error::Error> {
    notification(notice).show_async().await.map(drop)
}

/// Hands `notice` to the desktop's notification service (a blocking call, off the runtime).
#[cfg(any(target_os = "macos", windows))]
pub async fn show(notice: &Notice) -> Result<(), notify_rust::error::Error> {
    let notification = notification(notice);
    tauri::async_runtime::spawn_blocking(move || notification.show().map(drop))
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "the notification call failed");
            Ok(())
        })
}

fn notification(notice: &Notice) -> notify_rust::Notification {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Confab")
        .summary(&notice.title)
        .body(&notice.body);
    notification
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_ipc::meeting::{ChatLine, WaitingGuestView};

    fn waiting(names: &[&str]) -> MeetingUpdate {
        MeetingUpdate::WaitingRoom {
            guests: names
                .iter()
                .map(|name| WaitingGuestView {
                    identity: format!("guest-{name}"),
                    name: (*name).to_owned(),
                    waiting_seconds: 0,
                })
                .collect(),
            locked: false,
            waiting_room: true,
        }
    }

    fn chat(from: &str, text: &str, private: bool) -> MeetingUpdate {
        MeetingUpdate::Chat {
            line: ChatLine {
                id: "1".into(),
                from: from.into(),
                from_name: from.to_uppercase(),
                text: text.into(),
                private,
                timestamp: 0,
            },
        }
    }

    #[test]
    fn each_waiting_guest_is_announced_once_per_wait() {
        let mut notices = Notices::default();
        let first = notices.for_update(&waiting(&["Bob"]), Some("me"));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].title, "Bob is waiting to join");
        let next = notices.for_update(&waiting(&["Bob", "Cy"]), Some("me"));
        assert_eq!(next.len(), 1, "only Cy is new: {next:?}");
        assert!(notices.for_update(&waiting(&[]), Some("me")).is_empty());
        assert_eq!(
            notices.for_update(&waiting(&["Bob"]), Some("me")).len(),
            1,
            "Bob knocks again"
        );
    }

    #[test]
    fn only_private_messages_from_others_notify_and_long_ones_are_cut() {
        let mut notices = Notices::default();
        assert!(
            notices
                .for_update(&chat("ada", "hi all", false), Some("me"))
                .is_empty()
        );
        assert!(
            notices
                .for_update(&chat("me", "psst", true), Some("me"))
                .is_empty()
        );
        let long = "x".repeat(200);
        let private = notices.for_update(&chat("ada", &long, true), Some("me"));
        assert_eq!(private[0].title, "Private message from ADA");
        assert_eq!(private[0].body.chars().count(), PREVIEW_CHARS + 1);
    }
}
