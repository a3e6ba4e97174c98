//! Helpers of the meeting scenario tests: waiting for meeting events with a deadline, tokens,
//! and the meeting options every test uses.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use confab_meeting::{ConferenceClient, Meeting, MeetingEvent, MeetingOptions};
use confab_rtc::room::{RoomEvent, RoomOptions};
use livekit_api::access_token::{AccessToken, VideoGrants};
use tokio::sync::mpsc;

/// Generous: only a failing test waits this long.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub type Events = mpsc::Receiver<MeetingEvent>;

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// An API token allowed to create meetings on a server with `key`/`secret`.
pub fn create_token(key: &str, secret: &str) -> String {
    AccessToken::with_api_key(key, secret)
        .with_identity("meeting-creator")
        .with_grants(VideoGrants {
            room_create: true,
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}

pub fn options(name: &str) -> MeetingOptions {
    let downloads =
        std::env::temp_dir().join(format!("confab-meeting-test-{}-{name}", std::process::id()));
    let mut options = MeetingOptions::new(downloads);
    options.room = RoomOptions {
        bind_ip: Some([127, 0, 0, 1].into()),
        ..RoomOptions::default()
    };
    options
}

pub fn downloads(options: &MeetingOptions) -> PathBuf {
    options.downloads.clone()
}

/// The next event for which `pick` returns something, within [`DEADLINE`]; the events passed
/// over on the way are returned too, so a test can assert what did *not* happen before.
pub async fn wait_for<T>(
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(&MeetingEvent) -> Option<T>,
) -> (T, Vec<MeetingEvent>) {
    let mut passed = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.recv().await {
            if let Some(found) = pick(&event) {
                return Some(found);
            }
            passed.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => (found, passed),
        Ok(None) => panic!("the events ended before {what}; saw {passed:#?}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}; saw {passed:#?}"),
    }
}

/// Takes the next event `wanted` accepts (for events a test must own, like a file's reader).
pub async fn take(
    events: &mut Events,
    what: &str,
    mut wanted: impl FnMut(&MeetingEvent) -> bool,
) -> MeetingEvent {
    let mut passed = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.recv().await {
            if wanted(&event) {
                return Some(event);
            }
            passed.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the events ended before {what}; saw {passed:#?}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}; saw {passed:#?}"),
    }
}

/// Waits for a room event matching `pick`.
pub async fn wait_for_room<T>(
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(&RoomEvent) -> Option<T>,
) -> (T, Vec<MeetingEvent>) {
    wait_for(events, what, |event| match event {
        MeetingEvent::Room(event) => pick(event),
        _ => None,
    })
    .await
}

/// Joins `code` as `name` through `client`.
pub async fn join(
    client: &ConferenceClient,
    code: &confab_ipc::MeetingCode,
    name: &str,
) -> (Meeting, Events) {
    Meeting::join(client.clone(), code, name, options(name))
        .await
        .expect("join")
}

/// Whether any of `events` is a room event matching `pick`.
pub fn saw_room(events: &[MeetingEvent], mut pick: impl FnMut(&RoomEvent) -> bool) -> bool {
    events.iter().any(|event| match event {
        MeetingEvent::Room(event) => pick(event),
        _ => false,
    })
}
pub mod cluster;
