//! Helpers shared by the client engine's scenario tests.
#![allow(dead_code)]

use std::time::Duration;

use confab_rtc::signal::SignalEvent;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use tokio::sync::mpsc;

/// Generous: only a failing test waits this long.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Test logs through `RUST_LOG`, once per test binary.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A thread repeating `step` until dropped: something that keeps happening on a test's
/// screen or device while the test watches.
pub struct Looping {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Looping {
    pub fn start(mut step: impl FnMut() + Send + 'static) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                step();
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Looping {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The embedded SFU on loopback, accepting `key`/`secret`.
pub async fn start_sfu(key: &str, secret: &str) -> confab_sfu::RunningSfu {
    start_sfu_with(key, secret, |_| {}).await
}

/// [`start_sfu`] with `adjust` applied to the configuration first.
pub async fn start_sfu_with(
    key: &str,
    secret: &str,
    adjust: impl FnOnce(&mut confab_sfu::SfuConfig),
) -> confab_sfu::RunningSfu {
    init_tracing();
    let mut config = confab_sfu::SfuConfig::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        confab_sfu::ApiKeys::parse(&format!("{key}: {secret}")).expect("keys"),
    );
    adjust(&mut config);
    confab_sfu::start(config).await.expect("start")
}

/// A join token for `room`.
pub fn join_token(key: &str, secret: &str, room: &str, identity: &str) -> String {
    AccessToken::with_api_key(key, secret)
        .with_identity(identity)
        .with_grants(VideoGrants {
            room_join: true,
            room: room.into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}

/// The next event, within the deadline.
pub async fn next_event(events: &mut mpsc::Receiver<SignalEvent>) -> SignalEvent {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("an event within the deadline")
        .expect("events end only after Closed")
}

/// Events until one satisfies `wanted`; an earlier `Closed` fails the test.
pub async fn event_where(
    events: &mut mpsc::Receiver<SignalEvent>,
    wanted: impl Fn(&SignalEvent) -> bool,
) -> SignalEvent {
    loop {
        let event = next_event(events).await;
        if wanted(&event) {
            return event;
        }
        assert!(
            !matches!(event, SignalEvent::Closed(_)),
            "closed early: {event:?}"
        );
    }
}

/// Whether `event` is a participant update listing `identity` in `state`.
pub fn update_has(
    event: &SignalEvent,
    identity: &str,
    state: proto::participant_info::State,
) -> bool {
    use proto::signal_response::Message as Response;
    matches!(event, SignalEvent::Message(message) if matches!(
        message.as_ref(),
        Response::Update(update) if update.participants.iter().any(|p| p.identity == identity && p.state() == state)
    ))
}

/// `other` (just joined as `identity`) shows up in `events` as joined, leaves, and shows up
/// as disconnected.
pub async fn arrives_then_leaves(
    events: &mut mpsc::Receiver<SignalEvent>,
    other: confab_rtc::signal::Joined,
    identity: &str,
) {
    use proto::participant_info::State;
    event_where(events, |e| {
        update_has(e, identity, State::Joined) || update_has(e, identity, State::Active)
    })
    .await;
    other.client.leave().await.expect("leave sent");
    event_where(events, |e| update_has(e, identity, State::Disconnected)).await;
}

/// The connection ends with the server's `leave` giving `reason`.
pub async fn left_with(events: &mut mpsc::Receiver<SignalEvent>, reason: proto::DisconnectReason) {
    let closed = event_where(events, |e| matches!(e, SignalEvent::Closed(_))).await;
    assert!(
        matches!(
            &closed,
            SignalEvent::Closed(confab_rtc::signal::SignalClosed::Left { reason: got, .. }) if *got == reason
        ),
        "expected a leave with {reason:?}, got {closed:?}"
    );
}

pub mod livekit;
pub mod media;
pub mod relay;
pub mod scenarios;
