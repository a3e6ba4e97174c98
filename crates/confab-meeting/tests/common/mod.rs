//! Helpers of the meeting scenario tests: waiting for meeting events with a deadline, tokens,
//! and the meeting options every test uses.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use confab_meeting::chat::ChatEntry;
use confab_meeting::{ConferenceClient, Meeting, MeetingEnd, MeetingEvent, MeetingOptions};
use confab_rtc::room::{DataOptions, RoomEvent, RoomOptions};
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

/// Waits until the host's waiting list shows `name`; returns the guest's identity.
pub async fn host_sees_waiting(host_events: &mut Events, name: &str) -> String {
    wait_for(
        host_events,
        &format!("{name} in the waiting list"),
        |event| match event {
            MeetingEvent::WaitingList(list) => list
                .waiting
                .iter()
                .find(|guest| guest.name == name)
                .map(|guest| guest.identity.clone()),
            _ => None,
        },
    )
    .await
    .0
}

/// Waits for the admission; returns what the guest saw while it waited, having checked that
/// nothing of the room was among it: nobody, no track, no chat, no data.
pub async fn admitted_having_seen_nothing(guest_events: &mut Events) -> Vec<MeetingEvent> {
    let ((), waited) = wait_for(guest_events, "admission", |event| {
        matches!(event, MeetingEvent::Admitted).then_some(())
    })
    .await;
    assert!(
        !saw_room(&waited, |event| matches!(
            event,
            RoomEvent::ParticipantJoined(_)
                | RoomEvent::TrackPublished { .. }
                | RoomEvent::TrackSubscribed { .. }
                | RoomEvent::Chat(_)
                | RoomEvent::Data(_)
        )),
        "a waiting guest saw {waited:#?}"
    );
    waited
}

/// The chat history the host gave the guest: among the events of its wait (the history's
/// data may overtake the admission's signalling message), or still to come; with the events
/// read on the way (kept: dropping a subscribed track unsubscribes it).
pub async fn chat_history(
    waited: &[MeetingEvent],
    guest_events: &mut Events,
) -> (Vec<ChatEntry>, Vec<MeetingEvent>) {
    let history_of = |event: &MeetingEvent| match event {
        MeetingEvent::ChatHistory(entries) => Some(entries.clone()),
        _ => None,
    };
    match waited.iter().find_map(history_of) {
        Some(history) => (history, Vec::new()),
        None => wait_for(guest_events, "the chat history", history_of).await,
    }
}

/// Until a track `identity` publishes is subscribed, among `seen` or still to come.
pub async fn first_track_of(seen: &mut Vec<MeetingEvent>, events: &mut Events, identity: &str) {
    seen_or_next_room(
        seen,
        events,
        &format!("{identity}'s track"),
        |event| match event {
            RoomEvent::TrackSubscribed { identity: from, .. } if from == identity => Some(()),
            _ => None,
        },
    )
    .await;
}

/// The first room event `pick` takes among `seen` (events read earlier and kept, since
/// dropping a subscribed track unsubscribes it) or still to come; what is read on the way is
/// added to `seen`.
pub async fn seen_or_next_room<T>(
    seen: &mut Vec<MeetingEvent>,
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(&RoomEvent) -> Option<T>,
) -> T {
    let earlier = seen.iter().find_map(|event| match event {
        MeetingEvent::Room(event) => pick(event),
        _ => None,
    });
    if let Some(found) = earlier {
        return found;
    }
    let (found, passed) = wait_for_room(events, what, pick).await;
    seen.extend(passed);
    found
}

/// What a guest sent while it waited never reached the host: what it sends once admitted, on
/// the same ordered channel, is the first of its data the host gets.
pub async fn only_data_after_admission(guest: &Meeting, host_events: &mut Events) {
    let guest_id = guest.identity();
    guest
        .room()
        .await
        .expect("room")
        .publish_data(b"after admission".to_vec(), &DataOptions::default())
        .await
        .expect("data");
    let (payload, _) = wait_for_room(host_events, "the guest's data", |event| match event {
        RoomEvent::Data(data) if data.from.as_deref() == Some(guest_id.as_str()) => {
            Some(data.payload.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(payload, b"after admission");
}

/// The meeting's end and its reason.
pub async fn ended(events: &mut Events) -> MeetingEnd {
    wait_for(events, "the end", |event| match event {
        MeetingEvent::Ended(end) => Some(end.clone()),
        _ => None,
    })
    .await
    .0
}
