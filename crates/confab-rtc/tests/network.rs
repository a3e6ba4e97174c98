//! One client on a bad network to the embedded SFU (through `common::relay`): loss and delay
//! leave media and chat flowing; after an outage the client resumes, or rejoins when the
//! server dropped its session, or ends with a clear reason.

mod common;

use std::time::Duration;

use common::relay::{OUTAGE_CLIENT_IP, RELAY_MEDIA_IP, Relay};
use common::scenarios::{publish_synthetic, room_event_within, subscribed_audio_video};
use confab_rtc::room::{
    ConnectionState, DisconnectReason, RemoteTrack, Room, RoomEvent, RoomOptions,
};
use confab_rtc::synthetic::{audio_counter, video_counter};
use confab_sfu::RunningSfu;
use livekit_api::access_token::{AccessToken, VideoGrants};
use tokio::sync::mpsc;

const KEY: &str = "APIreconnect";
const SECRET: &str = "reconnect-secret-reconnect-secret";
/// An outage as long as the issue asks the client to survive.
const OUTAGE: Duration = Duration::from_secs(5);
/// Covers the outage, LiveKit's backoff (the attempt after 4.2 s comes at 9 s) and ICE.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);
/// Synthetic video runs at 30 frames a second.
const FRAMES_PER_SECOND: u32 = 30;

async fn start_sfu(resume_window: Option<Duration>) -> (RunningSfu, Relay) {
    let sfu = common::start_sfu_with(KEY, SECRET, |config| {
        config.media.node_ip = Some(RELAY_MEDIA_IP);
        if let Some(window) = resume_window {
            config.resume_window = window;
        }
    })
    .await;
    let relay = Relay::start(sfu.local_addr(), sfu.media_addr().port()).await;
    (sfu, relay)
}

fn token(identity: &str, ttl: Duration) -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(VideoGrants {
            room_join: true,
            room: "outage".into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}

/// Alice reaches the SFU through the relay (and is the one the outage hits); Bob directly.
async fn join_alice_and_bob(
    sfu: &RunningSfu,
    relay: &Relay,
    alice_ttl: Duration,
) -> [(Room, mpsc::Receiver<RoomEvent>); 2] {
    let alice_options = RoomOptions {
        bind_ip: Some(OUTAGE_CLIENT_IP),
        ..RoomOptions::default()
    };
    let alice = Room::connect(&relay.url, &token("alice", alice_ttl), alice_options)
        .await
        .expect("alice joined");
    let bob_url = format!("http://{}", sfu.local_addr());
    let bob = Room::connect(
        &bob_url,
        &token("bob", Duration::from_secs(3600)),
        RoomOptions::default(),
    )
    .await
    .expect("bob joined");
    [alice, bob]
}

/// The highest video counter among the next `count` frames.
async fn latest_counter(video: &mut RemoteTrack, count: usize) -> u32 {
    common::media::counters_advance(video, count, |d| video_counter(d).map(|(c, _)| c))
        .await
        .last()
        .copied()
        .expect("frames")
}

/// Reads `video` until a frame numbered above `counter` arrives.
async fn frame_after(video: &mut RemoteTrack, counter: u32) {
    let read = async {
        loop {
            let frame = video.recv().await.expect("the track ended early");
            if video_counter(&frame.data).is_some_and(|(c, _)| c > counter) {
                return;
            }
        }
    };
    tokio::time::timeout(RECOVERY_DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("no frame after {counter} arrived"));
}

/// Reads `track` until its counters span `span` frames; the share of them that arrived.
async fn arrival_share(
    track: &mut RemoteTrack,
    span: u32,
    counter_of: impl Fn(&[u8]) -> Option<u32>,
) -> f64 {
    let mut seen = std::collections::BTreeSet::new();
    let read = async {
        loop {
            let frame = track.recv().await.expect("the track ended early");
            let counter = counter_of(&frame.data).expect("one of our frames");
            seen.insert(counter);
            let (Some(first), Some(last)) = (seen.first(), seen.last()) else {
                continue;
            };
            if last - first + 1 >= span {
                return f64::from(u32::try_from(seen.len()).unwrap_or(u32::MAX))
                    / f64::from(last - first + 1);
            }
        }
    };
    tokio::time::timeout(RECOVERY_DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("only {} frames arrived in time", seen.len()))
}

async fn leave(alice: Room, bob: Room) {
    alice.leave().await.expect("alice left");
    bob.leave().await.expect("bob left");
}

async fn connection_state(events: &mut mpsc::Receiver<RoomEvent>, state: ConnectionState) {
    room_event_within(
        events,
        &format!("{state:?}"),
        RECOVERY_DEADLINE,
        |e| matches!(e, RoomEvent::Connection(s) if *s == state),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_and_100_ms_delay_keep_media_and_chat_flowing() {
    let (sfu, relay) = start_sfu(None).await;
    relay.impair(0.05, Duration::from_millis(100));
    let [(alice, mut alice_events), (bob, mut bob_events)] =
        join_alice_and_bob(&sfu, &relay, Duration::from_secs(3600)).await;
    let media = [
        publish_synthetic(&alice).await,
        publish_synthetic(&bob).await,
    ];
    for (events, publisher) in [(&mut bob_events, "alice"), (&mut alice_events, "bob")] {
        let [(_, mut audio), (_, mut video)] = subscribed_audio_video(events, publisher).await;
        // Five seconds of each. Video lost in transit comes back through NACK/RTX; audio has
        // no retransmission, so about one packet in twenty is gone for good.
        let video_share =
            arrival_share(&mut video, 150, |d| video_counter(d).map(|(c, _)| c)).await;
        let audio_share = arrival_share(&mut audio, 250, audio_counter).await;
        eprintln!(
            "{publisher}'s media at the other end: video {video_share:.3}, audio {audio_share:.3}"
        );
        assert!(
            video_share >= 0.95,
            "video from {publisher}: {video_share:.3}"
        );
        assert!(
            audio_share >= 0.85,
            "audio from {publisher}: {audio_share:.3}"
        );
    }
    eprintln!("datagrams the relay dropped: {}", relay.lost());
    assert!(relay.lost() > 0, "the link was lossy");
    alice
        .send_chat("through the lossy link", &[])
        .await
        .expect("chat");
    bob.send_chat("back through it", &[]).await.expect("chat");
    for (events, message) in [
        (&mut bob_events, "through the lossy link"),
        (&mut alice_events, "back through it"),
    ] {
        room_event_within(
            events,
            message,
            RECOVERY_DEADLINE,
            |e| matches!(e, RoomEvent::Chat(c) if c.message == message),
        )
        .await;
    }
    drop(media);
    leave(alice, bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_second_outage_is_resumed_and_no_chat_message_is_lost_or_repeated() {
    let (sfu, relay) = start_sfu(None).await;
    let [(alice, mut alice_events), (bob, mut bob_events)] =
        join_alice_and_bob(&sfu, &relay, Duration::from_secs(3600)).await;
    let media = publish_synthetic(&alice).await;
    let [_, (_, mut video)] = subscribed_audio_video(&mut bob_events, "alice").await;
    let before = latest_counter(&mut video, 30).await;

    relay.go_dark();
    connection_state(&mut alice_events, ConnectionState::Reconnecting).await;
    // Sent while the network is down: queued, then delivered once.
    alice
        .send_chat("sent during the outage", &[])
        .await
        .expect("chat queued");
    tokio::time::sleep(OUTAGE).await;
    relay.restore();
    connection_state(&mut alice_events, ConnectionState::Resumed).await;
    alice
        .send_chat("sent after the resume", &[])
        .await
        .expect("chat sent");

    // Bob gets both messages exactly once, in order, and never sees Alice leave.
    let mut chats = Vec::new();
    room_event_within(&mut bob_events, "the last chat", RECOVERY_DEADLINE, |e| {
        assert!(
            !matches!(e, RoomEvent::ParticipantLeft { identity } if identity == "alice"),
            "a resume is not a departure"
        );
        if let RoomEvent::Chat(chat) = e {
            chats.push(chat.message.clone());
        }
        chats.last().is_some_and(|m| m == "sent after the resume")
    })
    .await;
    assert_eq!(chats, ["sent during the outage", "sent after the resume"]);

    // Video made after the outage reaches Bob.
    frame_after(
        &mut video,
        before + FRAMES_PER_SECOND * (OUTAGE.as_secs() as u32 + 1),
    )
    .await;
    drop(media);
    leave(alice, bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_media_with_signalling_up_is_noticed_and_resumed() {
    let (sfu, relay) = start_sfu(None).await;
    let [(alice, mut alice_events), (bob, mut bob_events)] =
        join_alice_and_bob(&sfu, &relay, Duration::from_secs(3600)).await;
    let media = publish_synthetic(&alice).await;
    let [_, (_, mut video)] = subscribed_audio_video(&mut bob_events, "alice").await;
    let before = latest_counter(&mut video, 30).await;

    // UDP blocked: only ICE consent checks can tell.
    relay.drop_media();
    connection_state(&mut alice_events, ConnectionState::Reconnecting).await;
    relay.restore();
    connection_state(&mut alice_events, ConnectionState::Resumed).await;
    frame_after(&mut video, before + FRAMES_PER_SECOND * 5).await;
    drop(media);
    leave(alice, bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_server_dropped_is_rejoined_with_its_tracks_and_mute_state() {
    let (sfu, relay) = start_sfu(Some(Duration::from_secs(1))).await;
    let [(alice, mut alice_events), (bob, mut bob_events)] =
        join_alice_and_bob(&sfu, &relay, Duration::from_secs(3600)).await;
    let media = publish_synthetic(&alice).await;
    media.microphone.set_muted(true).await.expect("muted");
    let first_sid = media.camera.sid();
    subscribed_audio_video(&mut bob_events, "alice").await;

    relay.go_dark();
    connection_state(&mut alice_events, ConnectionState::Reconnecting).await;
    // The server gives up on Alice's session after its 1 s resume window.
    room_event_within(
        &mut bob_events,
        "alice leaving",
        RECOVERY_DEADLINE,
        |e| matches!(e, RoomEvent::ParticipantLeft { identity } if identity == "alice"),
    )
    .await;
    relay.restore();

    // Alice: Bob left and came back with the new session.
    room_event_within(
        &mut alice_events,
        "bob leaving",
        RECOVERY_DEADLINE,
        |e| matches!(e, RoomEvent::ParticipantLeft { identity } if identity == "bob"),
    )
    .await;
    room_event_within(
        &mut alice_events,
        "bob again",
        RECOVERY_DEADLINE,
        |e| matches!(e, RoomEvent::ParticipantJoined(p) if p.identity == "bob"),
    )
    .await;
    connection_state(&mut alice_events, ConnectionState::Rejoined).await;

    // Bob: Alice is back, her microphone still muted, her camera flowing under a new sid.
    let [(audio_info, _), (video_info, mut video)] =
        subscribed_audio_video(&mut bob_events, "alice").await;
    assert!(audio_info.muted, "the mute survived the rejoin");
    assert_ne!(video_info.sid, first_sid);
    assert_eq!(
        media.camera.sid(),
        video_info.sid,
        "the handle follows the new sid"
    );
    latest_counter(&mut video, 30).await;

    drop(media);
    leave(alice, bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_on_reconnect_ends_the_room_with_the_servers_reason() {
    let (sfu, relay) = start_sfu(None).await;
    // Token checks allow a minute of clock skew (as livekit-server's do), so the token must
    // be more than a minute past its expiry when the client comes back.
    let ttl = Duration::from_secs(2);
    let [(alice, mut alice_events), (bob, _bob_events)] =
        join_alice_and_bob(&sfu, &relay, ttl).await;
    tokio::time::sleep(ttl + Duration::from_secs(62)).await;

    relay.go_dark();
    connection_state(&mut alice_events, ConnectionState::Reconnecting).await;
    relay.restore();
    let ended = tokio::time::timeout(RECOVERY_DEADLINE, async {
        loop {
            match alice_events.recv().await {
                Some(RoomEvent::Disconnected(reason)) => return reason,
                Some(_) => {}
                None => panic!("events ended without Disconnected"),
            }
        }
    })
    .await
    .expect("the room ends instead of retrying forever");
    assert!(
        matches!(&ended, DisconnectReason::Refused(why) if why.contains("401") && why.contains("expired")),
        "{ended:?}"
    );
    drop(alice);
    bob.leave().await.expect("left");
}
