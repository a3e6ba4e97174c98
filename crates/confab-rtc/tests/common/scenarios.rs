//! Client scenarios that run unchanged against the embedded SFU and a real `livekit-server`.

use confab_rtc::room::files::save_byte_stream;
use confab_rtc::room::{
    DataOptions, DisconnectReason, Layer, RemoteTrack, Room, RoomEvent, RoomOptions, StreamOptions,
    SubscriptionSettings, TrackInfo, TrackKind, TrackOptions, TrackSource, VideoCodec,
};
use tokio::sync::mpsc;

use super::DEADLINE;
use confab_rtc::synthetic::{
    audio_counter, stream_audio, stream_video, stream_video_keyframes_on_request, video_counter,
};

use super::media::{counters_advance, layer_arrives};

/// A camera (LiveKit's three simulcast layers) and a microphone published by one room, each
/// fed synthetic frames until this is dropped.
pub struct SyntheticMedia {
    pub camera: confab_rtc::room::LocalTrack,
    pub microphone: confab_rtc::room::LocalTrack,
    streams: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for SyntheticMedia {
    fn drop(&mut self) {
        for stream in &self.streams {
            stream.abort();
        }
    }
}

pub async fn publish_synthetic(room: &Room) -> SyntheticMedia {
    let camera = room
        .publish_track(TrackOptions::camera(VideoCodec::Vp8))
        .await
        .expect("camera published");
    let microphone = room
        .publish_track(TrackOptions::microphone())
        .await
        .expect("microphone published");
    let streams = [
        stream_video(camera.clone(), Layer::ALL.into_iter().map(Some).collect()),
        stream_audio(microphone.clone()),
    ];
    SyntheticMedia {
        camera,
        microphone,
        streams,
    }
}

/// Frames each receiver must see advance (about a second of video).
const FRAMES: usize = 30;

pub async fn join_room(url: &str, token: &str) -> (Room, mpsc::Receiver<RoomEvent>) {
    join_room_with(url, token, RoomOptions::default()).await
}

pub async fn join_room_with(
    url: &str,
    token: &str,
    options: RoomOptions,
) -> (Room, mpsc::Receiver<RoomEvent>) {
    Room::connect(url, token, options).await.expect("joined")
}

/// Events until one satisfies `wanted`; a `Disconnected` first fails the test.
pub async fn room_event_where(
    events: &mut mpsc::Receiver<RoomEvent>,
    what: &str,
    wanted: impl FnMut(&RoomEvent) -> bool,
) -> RoomEvent {
    room_event_within(events, what, DEADLINE, wanted).await
}

/// [`room_event_where`] with a deadline of its own.
pub async fn room_event_within(
    events: &mut mpsc::Receiver<RoomEvent>,
    what: &str,
    deadline: std::time::Duration,
    mut wanted: impl FnMut(&RoomEvent) -> bool,
) -> RoomEvent {
    let wait = async {
        loop {
            let event = events.recv().await.expect("events end after Disconnected");
            if wanted(&event) {
                return event;
            }
            if let RoomEvent::Disconnected(reason) = &event {
                panic!("disconnected ({reason:?}) while waiting for {what}");
            }
        }
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {deadline:?}"))
}

/// The next track `identity` published that this client subscribed to (`what` names it for
/// a failure message).
pub async fn subscribed_track(
    events: &mut mpsc::Receiver<RoomEvent>,
    identity: &str,
    what: &str,
) -> (TrackInfo, RemoteTrack) {
    let event = room_event_where(events, what, |event| {
        matches!(event, RoomEvent::TrackSubscribed { identity: who, .. } if who == identity)
    })
    .await;
    let RoomEvent::TrackSubscribed { info, track, .. } = event else {
        unreachable!("matched above")
    };
    (info, track)
}

/// The subscribed audio and video tracks published by `identity`, in whatever order they
/// arrive.
pub async fn subscribed_audio_video(
    events: &mut mpsc::Receiver<RoomEvent>,
    identity: &str,
) -> [(TrackInfo, RemoteTrack); 2] {
    let mut audio = None;
    let mut video = None;
    while audio.is_none() || video.is_none() {
        let (info, track) = subscribed_track(events, identity, "a subscribed track").await;
        match info.kind {
            TrackKind::Audio => audio = Some((info, track)),
            TrackKind::Video => video = Some((info, track)),
        }
    }
    match (audio, video) {
        (Some(audio), Some(video)) => [audio, video],
        _ => unreachable!("loop ends with both"),
    }
}

/// Two Confab clients publish camera (3-layer simulcast) and microphone to each other; each
/// receives the other's frames with advancing counters; a mute is seen remotely; chat and data
/// go both ways; a leave is seen.
pub async fn two_clients_exchange_media_chat_and_mute(url: &str, token: impl Fn(&str) -> String) {
    two_clients_exchange_media_chat_and_mute_with(url, token, RoomOptions::default(), false).await;
}

/// [`two_clients_exchange_media_chat_and_mute`] joining with `options`; both rooms must end up
/// on one peer connection exactly when `single_peer_connection`.
pub async fn two_clients_exchange_media_chat_and_mute_with(
    url: &str,
    token: impl Fn(&str) -> String,
    options: RoomOptions,
    single_peer_connection: bool,
) {
    let (alice, mut alice_events) = join_room_with(url, &token("alice"), options.clone()).await;
    let (bob, mut bob_events) = join_room_with(url, &token("bob"), options).await;
    for room in [&alice, &bob] {
        assert_eq!(room.single_peer_connection(), single_peer_connection);
    }

    let media = [
        publish_synthetic(&alice).await,
        publish_synthetic(&bob).await,
    ];
    let microphones = [media[0].microphone.clone(), media[1].microphone.clone()];

    for (events, publisher) in [(&mut alice_events, "bob"), (&mut bob_events, "alice")] {
        let [(audio_info, mut audio), (video_info, mut video)] =
            subscribed_audio_video(events, publisher).await;
        assert_eq!(video_info.source, TrackSource::Camera);
        assert_eq!(audio_info.source, TrackSource::Microphone);
        counters_advance(&mut video, FRAMES, |d| video_counter(d).map(|(c, _)| c)).await;
        counters_advance(&mut audio, FRAMES, audio_counter).await;
        // Adaptive stream: ask for the lowest layer, then only it arrives.
        video
            .set_settings(SubscriptionSettings::Layer(Layer::Low))
            .await
            .expect("settings sent");
        layer_arrives(&mut video, Layer::Low).await;
    }

    // Alice mutes her microphone: Bob sees it, then sees the unmute; meanwhile her encoder is
    // told to rest (the track's feedback), and to work again.
    microphones[0].set_muted(true).await.expect("mute");
    let muted_sid = microphones[0].sid().to_owned();
    for muted in [true, false] {
        if !muted {
            microphones[0].set_muted(false).await.expect("unmute");
        }
        room_event_where(&mut bob_events, "alice's mute state", |event| {
            matches!(event, RoomEvent::TrackMuted { identity, track_sid, muted: m }
                if identity == "alice" && *track_sid == muted_sid && *m == muted)
        })
        .await;
        assert_eq!(microphones[0].feedback().borrow().muted, muted);
    }

    // Chat both ways, then data with a topic.
    let sent = alice.send_chat("hello bob", &[]).await.expect("chat sent");
    let got = room_event_where(&mut bob_events, "alice's chat", |e| {
        matches!(e, RoomEvent::Chat(_))
    })
    .await;
    let RoomEvent::Chat(chat) = got else {
        unreachable!()
    };
    assert_eq!(
        (
            chat.id.as_str(),
            chat.from.as_deref(),
            chat.message.as_str()
        ),
        (sent.id.as_str(), Some("alice"), "hello bob")
    );
    bob.send_chat("hi alice", &["alice".into()])
        .await
        .expect("chat sent");
    room_event_where(&mut alice_events, "bob's private chat", |e| {
        matches!(e, RoomEvent::Chat(c) if c.message == "hi alice" && c.from.as_deref() == Some("bob"))
    })
    .await;
    let options = DataOptions {
        topic: Some("scores".into()),
        reliable: true,
        destinations: vec![],
    };
    bob.publish_data(b"42".to_vec(), &options)
        .await
        .expect("data sent");
    room_event_where(&mut alice_events, "bob's data", |e| {
        matches!(e, RoomEvent::Data(d) if d.payload == b"42" && d.topic.as_deref() == Some("scores") && d.from.as_deref() == Some("bob"))
    })
    .await;

    // Files both ways, saved and checked byte for byte.
    file_arrives(&alice, &mut bob_events, "alice").await;
    file_arrives(&bob, &mut alice_events, "bob").await;

    drop(media);
    alice.leave().await.expect("left");
    room_event_where(
        &mut bob_events,
        "alice leaving",
        |e| matches!(e, RoomEvent::ParticipantLeft { identity } if identity == "alice"),
    )
    .await;
    let last = tokio::time::timeout(DEADLINE, async {
        let mut last = None;
        while let Some(event) = alice_events.recv().await {
            last = Some(event);
        }
        last
    })
    .await
    .expect("alice's events end");
    assert!(
        matches!(
            last,
            Some(RoomEvent::Disconnected(DisconnectReason::ClientInitiated))
        ),
        "{last:?}"
    );
    bob.leave().await.expect("left");
}

/// A camera that announces LiveKit's three layers but sends only the low one, with keyframes
/// only when asked (as libwebrtc and our encoder do while the bandwidth estimate is low): its
/// subscriber, who wants the best layer, still gets pictures — the server stands the low layer
/// in and asks for a keyframe on it, not on a layer that never flowed.
pub async fn the_only_flowing_layer_reaches_a_subscriber_wanting_more(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (_bob, mut bob_events) = join_room(url, &token("bob")).await;
    let camera = alice
        .publish_track(TrackOptions::camera(VideoCodec::Vp8))
        .await
        .expect("camera published");
    let stream = stream_video_keyframes_on_request(camera.clone(), vec![Some(Layer::Low)]);
    let (_, mut track) = subscribed_track(&mut bob_events, "alice", "alice's camera").await;
    let first = tokio::time::timeout(DEADLINE, track.recv())
        .await
        .expect("a frame within the deadline")
        .expect("the track is open");
    assert_eq!(
        first.data[0] & 0x01,
        0,
        "the first frame forwarded is not a keyframe"
    );
    layer_arrives(&mut track, Layer::Low).await;
    assert!(camera.feedback().borrow().keyframe_requests > 0);
    stream.abort();
}

/// With auto-subscribe off, Bob is told of Alice's tracks but receives none until he asks:
/// subscribing to her camera brings its frames (and not her microphone), unsubscribing ends
/// the track, subscribing again brings it back, and Alice leaving ends it.
pub async fn manual_subscription_brings_and_ends_a_track(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let manual = RoomOptions {
        auto_subscribe: false,
        ..RoomOptions::default()
    };
    let (bob, mut bob_events) = Room::connect(url, &token("bob"), manual)
        .await
        .expect("bob joined");
    let media = publish_synthetic(&alice).await;
    let camera_sid = media.camera.sid();
    let mut subscribed_before = Vec::new();
    room_event_where(&mut bob_events, "alice's camera announced", |event| {
        if let RoomEvent::TrackSubscribed { info, .. } = event {
            subscribed_before.push(info.sid.clone());
        }
        matches!(event, RoomEvent::TrackPublished { track, .. } if track.sid == camera_sid)
    })
    .await;
    bob.set_subscribed(&camera_sid, true)
        .await
        .expect("subscription sent");
    let subscribed = room_event_where(&mut bob_events, "alice's camera subscribed", |event| {
        if let RoomEvent::TrackSubscribed { info, .. } = event {
            subscribed_before.push(info.sid.clone());
        }
        matches!(event, RoomEvent::TrackSubscribed { info, .. } if info.sid == camera_sid)
    })
    .await;
    let RoomEvent::TrackSubscribed { mut track, .. } = subscribed else {
        unreachable!("matched above")
    };
    counters_advance(&mut track, FRAMES, |d| video_counter(d).map(|(c, _)| c)).await;
    assert_eq!(
        subscribed_before,
        std::slice::from_ref(&camera_sid),
        "only the track asked for is subscribed"
    );

    bob.set_subscribed(&camera_sid, false)
        .await
        .expect("unsubscription sent");
    track_ends(&mut track, &mut bob_events, &camera_sid).await;

    // Subscribing again brings a new track (the server may reuse the transceiver); when Alice
    // leaves, it ends as well.
    bob.set_subscribed(&camera_sid, true)
        .await
        .expect("subscription sent");
    let again = room_event_where(
        &mut bob_events,
        "alice's camera again",
        |event| matches!(event, RoomEvent::TrackSubscribed { info, .. } if info.sid == camera_sid),
    )
    .await;
    let RoomEvent::TrackSubscribed { mut track, .. } = again else {
        unreachable!("matched above")
    };
    counters_advance(&mut track, FRAMES, |d| video_counter(d).map(|(c, _)| c)).await;
    drop(media);
    alice.leave().await.expect("alice left");
    track_ends(&mut track, &mut bob_events, &camera_sid).await;
    bob.leave().await.expect("bob left");
}

/// Bob drops Alice's microphone track, as an app with no speaker does: while two seconds of
/// her camera arrive, her voice (fifty packets a second) is not announced again (a packet
/// must not revive a track its user let go, a new `TrackSubscribed` every 20 ms), and
/// subscribing to it again brings it back.
pub async fn a_dropped_track_is_declined_until_subscribed_again(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(url, &token("bob")).await;
    let media = publish_synthetic(&alice).await;
    let [(voice, dropped), (_, mut camera)] =
        subscribed_audio_video(&mut bob_events, "alice").await;
    drop(dropped);
    let camera_runs = counters_advance(&mut camera, 2 * FRAMES, |d| {
        video_counter(d).map(|(c, _)| c)
    });
    tokio::pin!(camera_runs);
    let mut announced_again = 0;
    loop {
        tokio::select! {
            _ = &mut camera_runs => break,
            event = bob_events.recv() => match event {
                Some(RoomEvent::TrackSubscribed { info, .. }) if info.sid == voice.sid => {
                    announced_again += 1;
                }
                Some(RoomEvent::Disconnected(reason)) => panic!("bob disconnected: {reason:?}"),
                Some(_) => {}
                None => panic!("bob's events ended"),
            },
        }
    }
    assert_eq!(announced_again, 0, "the dropped voice was announced again");

    bob.set_subscribed(&voice.sid, true)
        .await
        .expect("subscription sent");
    let (_, mut again) = subscribed_track(&mut bob_events, "alice", "alice's voice again").await;
    assert_eq!(again.sid(), voice.sid);
    counters_advance(&mut again, FRAMES, audio_counter).await;
    drop(media);
    alice.leave().await.expect("alice left");
    bob.leave().await.expect("bob left");
}

/// `auto_subscribe` off (LiveKit's `autoSubscribe: false`): the watcher hears of both of
/// alice's tracks but receives only the one it asks for — her camera — and nothing of her
/// voice before it (a server that subscribed it anyway sends that at once, at join).
pub async fn without_auto_subscribe_only_the_asked_for_track_arrives(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let media = publish_synthetic(&alice).await;
    let options = RoomOptions {
        auto_subscribe: false,
        ..RoomOptions::default()
    };
    let (watcher, mut events) = join_room_with(url, &token("watcher"), options).await;
    let mut published = Vec::new();
    let mut early = Vec::new();
    while published.len() < 2 {
        match room_event_where(&mut events, "alice's two tracks announced", |event| {
            matches!(
                event,
                RoomEvent::TrackPublished { .. } | RoomEvent::TrackSubscribed { .. }
            )
        })
        .await
        {
            RoomEvent::TrackPublished { track, .. } => published.push(track),
            RoomEvent::TrackSubscribed { info, .. } => early.push(info.sid),
            _ => unreachable!("matched above"),
        }
    }
    let camera = published
        .iter()
        .find(|track| track.kind == TrackKind::Video)
        .expect("alice's camera announced")
        .sid
        .clone();
    watcher
        .set_subscribed(&camera, true)
        .await
        .expect("subscription sent");
    let arrived = room_event_where(&mut events, "the camera asked for", |event| {
        matches!(event, RoomEvent::TrackSubscribed { .. })
    })
    .await;
    let RoomEvent::TrackSubscribed {
        info, mut track, ..
    } = arrived
    else {
        unreachable!("matched above")
    };
    assert!(early.is_empty(), "subscribed before asking: {early:?}");
    assert_eq!(info.sid, camera, "the first track to arrive");
    counters_advance(&mut track, FRAMES, |d| video_counter(d).map(|(c, _)| c)).await;
    drop(media);
    alice.leave().await.expect("alice left");
    watcher.leave().await.expect("watcher left");
}

/// Dynacast: the server tells a publisher which simulcast layers its subscribers want
/// (`SubscribedQualityUpdate`), and the engine hands that to the encoder through the track's
/// feedback — here as a subscriber moves from the low layer to the high one, then leaves the
/// track, after which no layer is wanted.
pub async fn the_publisher_hears_which_layers_its_subscriber_wants(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(url, &token("bob")).await;
    let media = publish_synthetic(&alice).await;
    let [_, (_, video)] = subscribed_audio_video(&mut bob_events, "alice").await;
    let mut feedback = media.camera.feedback();
    let mut told = async |wanted: [bool; 3], after: &str| {
        let told = tokio::time::timeout(
            DEADLINE,
            feedback.wait_for(|feedback| feedback.active_layers == wanted),
        )
        .await
        .map(|told| told.is_ok());
        assert_eq!(
            told,
            Ok(true),
            "the publisher was not told {wanted:?} after {after}: {:?}",
            *feedback.borrow()
        );
    };
    for (layer, wanted) in [
        (Layer::Low, [true, false, false]),
        (Layer::High, [true, true, true]),
    ] {
        video
            .set_settings(SubscriptionSettings::Layer(layer))
            .await
            .expect("settings sent");
        told(wanted, &format!("{layer:?}")).await;
    }
    bob.set_subscribed(&media.camera.sid(), false)
        .await
        .expect("unsubscription sent");
    told([false; 3], "the unsubscription").await;
    drop(media);
    alice.leave().await.expect("alice left");
    bob.leave().await.expect("bob left");
}

/// `track` delivers its last frame and `TrackUnsubscribed` names it.
async fn track_ends(
    track: &mut RemoteTrack,
    events: &mut mpsc::Receiver<RoomEvent>,
    track_sid: &str,
) {
    let ended =
        tokio::time::timeout(DEADLINE, async { while track.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the track kept delivering frames");
    room_event_where(events, "the end of the subscription", |event| {
        matches!(event, RoomEvent::TrackUnsubscribed { track_sid: sid, .. } if sid == track_sid)
    })
    .await;
}

/// A scratch folder of its own under the system temp dir.
pub fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "confab-rtc-{label}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `sender` sends a 300 kB file (several hundred chunks' worth of messages); the receiver's
/// events announce it, it is saved under its name with the same bytes and a verified hash.
pub async fn file_arrives(
    sender: &Room,
    receiver_events: &mut mpsc::Receiver<RoomEvent>,
    from: &str,
) {
    let outbox = scratch_dir("out");
    let inbox = scratch_dir("in");
    let contents: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = outbox.join("notes.bin");
    std::fs::write(&path, &contents).expect("write the file");
    let send = sender
        .send_file(
            &path,
            StreamOptions {
                topic: "files".into(),
                ..Default::default()
            },
        )
        .await
        .expect("send started");
    let progress = send.progress();
    let event = room_event_where(receiver_events, "a byte stream", |e| {
        matches!(e, RoomEvent::ByteStream(_))
    })
    .await;
    let RoomEvent::ByteStream(reader) = event else {
        unreachable!()
    };
    assert_eq!(reader.info.from.as_deref(), Some(from));
    assert_eq!(reader.info.name, "notes.bin");
    assert_eq!(reader.info.total_length, Some(contents.len() as u64));
    let (saved_progress, _) = tokio::sync::watch::channel(0);
    let saved = tokio::time::timeout(
        DEADLINE,
        save_byte_stream(reader, &inbox, &saved_progress, None),
    )
    .await
    .expect("saved in time")
    .expect("saved");
    let sent = send.finish().await.expect("sent");
    assert_eq!(*progress.borrow(), contents.len() as u64);
    assert_eq!(saved.path, inbox.join("notes.bin"));
    assert!(saved.verified, "the sender's SHA-256 was checked");
    assert_eq!(saved.sha256, sent.sha256);
    assert_eq!(std::fs::read(&saved.path).expect("read back"), contents);
    let leftovers: Vec<_> = std::fs::read_dir(&inbox)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no partial file left: {leftovers:?}");
    let _ = std::fs::remove_dir_all(outbox);
    let _ = std::fs::remove_dir_all(inbox);
}

/// Alice calls Bob's RPC methods: an answer, LiveKit's error codes for an unknown method, a
/// handler's own error, a handler too slow for the caller's timeout, an oversized request,
/// and a callee that leaves mid-call.
pub async fn rpc_calls_and_their_failures(url: &str, token: impl Fn(&str) -> String) {
    use confab_rtc::room::RpcError;
    use std::time::Duration;

    let (alice, mut alice_events) = join_room(url, &token("alice")).await;
    let (bob, _bob_events) = join_room(url, &token("bob")).await;
    room_event_where(
        &mut alice_events,
        "bob",
        |e| matches!(e, RoomEvent::ParticipantJoined(p) if p.identity == "bob"),
    )
    .await;
    bob.register_rpc_method("add", |call| async move {
        let sum: Option<i64> = call
            .payload
            .split(',')
            .map(|n| n.trim().parse::<i64>().ok())
            .sum();
        sum.map(|s| format!("{s} for {}", call.caller_identity))
            .ok_or_else(|| RpcError::new(2001, "not numbers", call.payload))
    })
    .await
    .expect("registered");
    let (entered_sender, entered) = tokio::sync::mpsc::channel::<()>(4);
    bob.register_rpc_method("hang", move |_| {
        let entered = entered_sender.clone();
        async move {
            let _ = entered.send(()).await;
            std::future::pending::<Result<String, RpcError>>().await
        }
    })
    .await
    .expect("registered");

    let code = |result: Result<String, RpcError>| result.expect_err("an error").code;
    assert_eq!(
        alice.perform_rpc("bob", "add", "2,3", None).await,
        Ok("5 for alice".to_owned())
    );
    assert_eq!(
        alice.perform_rpc("bob", "add", "two", None).await,
        Err(RpcError::new(2001, "not numbers", "two"))
    );
    assert_eq!(
        code(alice.perform_rpc("bob", "missing", "", None).await),
        RpcError::UNSUPPORTED_METHOD
    );
    let oversized = "x".repeat(confab_rtc::room::rpc::MAX_RPC_PAYLOAD_BYTES + 1);
    assert_eq!(
        code(alice.perform_rpc("bob", "add", &oversized, None).await),
        RpcError::REQUEST_PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        code(
            alice
                .perform_rpc("bob", "hang", "", Some(Duration::from_secs(1)))
                .await
        ),
        RpcError::RESPONSE_TIMEOUT
    );
    // That call entered the handler too; only the next call's signal counts below.
    let mut entered = entered;
    entered
        .recv()
        .await
        .expect("the timed-out call reached the handler");

    // Bob leaves while his handler still works on Alice's call.
    let call = tokio::spawn(async move {
        let result = alice.perform_rpc("bob", "hang", "", None).await;
        (alice, result)
    });
    tokio::time::timeout(DEADLINE, entered.recv())
        .await
        .expect("bob's handler started")
        .expect("handler");
    bob.leave().await.expect("left");
    let (alice, result) = tokio::time::timeout(DEADLINE, call)
        .await
        .expect("the call ends when bob leaves")
        .expect("task");
    assert_eq!(code(result), RpcError::RECIPIENT_DISCONNECTED);
    alice.leave().await.expect("left");
}

/// Alice shares her screen beside her camera and stops, twice: Bob receives each share's
/// frames, then sees it unpublished and its track end, while her camera keeps coming; the
/// second share arrives as a new track (a stopped share's section stays inactive).
pub async fn a_share_stops_and_starts_again_while_the_camera_runs(
    url: &str,
    token: impl Fn(&str) -> String,
) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (_bob, mut bob_events) = join_room(url, &token("bob")).await;
    let media = publish_synthetic(&alice).await;
    let camera_sid = media.camera.sid();
    let subscribed = room_event_where(
        &mut bob_events,
        "alice's camera",
        |event| matches!(event, RoomEvent::TrackSubscribed { info, .. } if info.sid == camera_sid),
    )
    .await;
    let RoomEvent::TrackSubscribed {
        track: mut camera, ..
    } = subscribed
    else {
        unreachable!("matched above")
    };
    let counter = |data: &[u8]| video_counter(data).map(|(counter, _)| counter);
    counters_advance(&mut camera, FRAMES, counter).await;

    let mut shares = Vec::new();
    for round in 1..=2 {
        let options = TrackOptions::screen_share(VideoCodec::Vp8, 1280, 720);
        let screen = alice.publish_track(options).await.expect("share published");
        let streaming = stream_video(screen.clone(), vec![None]);
        let sid = screen.sid();
        let subscribed = room_event_where(
            &mut bob_events,
            "alice's share",
            |event| matches!(event, RoomEvent::TrackSubscribed { info, .. } if info.sid == sid),
        )
        .await;
        let RoomEvent::TrackSubscribed {
            track: mut share,
            info,
            ..
        } = subscribed
        else {
            unreachable!("matched above")
        };
        assert_eq!(info.source, TrackSource::ScreenShare, "round {round}");
        counters_advance(&mut share, FRAMES, counter).await;

        screen.unpublish().await.expect("unpublish sent");
        room_event_where(&mut bob_events, "the share unpublished", |event| {
            matches!(event, RoomEvent::TrackUnpublished { track_sid, .. } if *track_sid == sid)
        })
        .await;
        let ended =
            tokio::time::timeout(DEADLINE, async { while share.recv().await.is_some() {} }).await;
        assert!(
            ended.is_ok(),
            "round {round}: the share kept delivering frames"
        );
        streaming.abort();
        shares.push(sid);
    }
    assert_ne!(shares[0], shares[1], "each share is a track of its own");
    // Frames queued while the shares ran are old; the camera's newest still advance.
    while let Ok(Some(_)) =
        tokio::time::timeout(std::time::Duration::from_millis(1), camera.recv()).await
    {}
    counters_advance(&mut camera, FRAMES, counter).await;
}
