//! A meeting's whole life on the embedded host (Confab's own SFU and conference API in this
//! process): create, join by code, the waiting room, admission, chat and its history, files,
//! hands, host controls, denial, rate limiting and the end — with several real clients.

mod common;

use std::net::SocketAddr;

use common::*;
use confab_conference::models::{CreateRequest, SettingsChange};
use confab_meeting::{ClientError, ConferenceClient, Meeting, MeetingEnd, MeetingEvent};
use confab_rtc::room::{DataOptions, RoomEvent, StreamOptions, TrackOptions};
use confab_rtc::synthetic;
use confab_sfu::{ApiKeys, RunningSfu, SfuConfig};

const KEY: &str = "APImeeting";
const SECRET: &str = "meeting-secret-meeting-secret-0123";

async fn start_host() -> (RunningSfu, ConferenceClient) {
    init_logs();
    let config = SfuConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        ApiKeys::parse(&format!("{KEY}: {SECRET}")).expect("keys"),
    );
    let sfu = confab_sfu::start(config).await.expect("start");
    let client = ConferenceClient::new(&sfu.local_addr().to_string()).expect("client");
    (sfu, client)
}

async fn open_meeting(
    client: &ConferenceClient,
    waiting_room: bool,
) -> (Meeting, confab_conference::models::CreateResponse, Events) {
    let request = CreateRequest {
        host_name: "Ada".into(),
        title: "Standup".into(),
        waiting_room,
        ..Default::default()
    };
    Meeting::host(
        client.clone(),
        &create_token(KEY, SECRET),
        &request,
        options("ada"),
    )
    .await
    .expect("host")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_waits_sees_nothing_is_admitted_and_joins_in() {
    let (sfu, client) = start_host().await;
    let (ada, created, mut ada_events) = open_meeting(&client, true).await;
    assert!(
        created
            .invite
            .starts_with(&format!("confab://join/{}", created.ticket.code))
    );
    // Ada talks before Bob arrives.
    let ada_room = ada.room().await.expect("room");
    let mic = ada_room
        .publish_track(TrackOptions::microphone())
        .await
        .expect("publish");
    let _audio = synthetic::stream_audio(mic);
    drop(ada_room);
    ada.send_chat("welcome, everyone", &[]).await.expect("chat");

    let (bob, mut bob_events) = join(&client, &created.ticket.code, "Bob").await;
    assert!(bob.is_waiting());
    let bob_id = host_sees_waiting(&mut ada_events, "Bob").await;
    assert_eq!(bob_id, bob.identity());

    // While waiting Bob can publish nothing, send nobody anything and call no host route.
    {
        let bob_room = bob.room().await.expect("room");
        let publish = bob_room.publish_track(TrackOptions::microphone()).await;
        assert!(publish.is_err(), "a waiting guest published: {publish:?}");
        bob_room
            .publish_data(b"before admission".to_vec(), &DataOptions::default())
            .await
            .ok();
    }
    let refused = client.waiting(&bob.ticket().token).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    assert!(matches!(
        bob.send_chat("let me in", &[]).await,
        Err(confab_meeting::MeetingError::StillWaiting)
    ));

    ada.admit(&bob_id).await.expect("admit");
    let waited = admitted_having_seen_nothing(&mut bob_events).await;

    // Admitted: Bob gets the chat from before, sees Ada and hears her.
    let (history, mut seen) = chat_history(&waited, &mut bob_events).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message, "welcome, everyone");
    assert_eq!(history[0].from, ada.identity());
    seen_or_next_room(&mut seen, &mut bob_events, "Ada", |event| match event {
        RoomEvent::ParticipantJoined(p) if p.identity == ada.identity() => Some(()),
        _ => None,
    })
    .await;
    first_track_of(&mut seen, &mut bob_events, &ada.identity()).await;

    // What Bob sent while waiting never arrived; what he sends now does.
    only_data_after_admission(&bob, &mut ada_events).await;

    // Bob raises his hand; Ada sees it.
    bob.raise_hand(true).await.expect("hand");
    wait_for_room(&mut ada_events, "Bob's raised hand", |event| match event {
        RoomEvent::ParticipantUpdated(p)
            if p.identity == bob_id && confab_meeting::presence::hand_raised(&p.attributes) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    // The host ends the meeting: everyone is told why.
    ada.end_for_all().await.expect("end");
    let end = ended(&mut bob_events).await;
    assert_eq!(end, MeetingEnd::EndedByHost);
    assert_eq!(end.message(), "The host ended the meeting");
    let joined_after = client.join(&created.ticket.code, "Late").await;
    assert!(
        matches!(&joined_after, Err(ClientError::Refused { kind, .. }) if kind == "no-such-meeting"),
        "{joined_after:?}"
    );
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_guest_is_told_and_a_locked_meeting_takes_nobody() {
    let (sfu, client) = start_host().await;
    let (ada, created, mut ada_events) = open_meeting(&client, true).await;
    let (_mallory, mut mallory_events) = join(&client, &created.ticket.code, "Mallory").await;
    let mallory_id = host_sees_waiting(&mut ada_events, "Mallory").await;
    ada.deny(&mallory_id).await.expect("deny");
    let end = ended(&mut mallory_events).await;
    assert_eq!(end, MeetingEnd::Denied);

    ada.change_settings(SettingsChange {
        locked: Some(true),
        waiting_room: None,
    })
    .await
    .expect("lock");
    let locked = client.join(&created.ticket.code, "Eve").await;
    assert!(
        matches!(&locked, Err(ClientError::Refused { status: 403, kind, .. }) if kind == "locked"),
        "{locked:?}"
    );
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_is_stopped_with_429_and_a_retry_time() {
    let (sfu, client) = start_host().await;
    let (_ada, created, _ada_events) = open_meeting(&client, true).await;
    let mut refused = None;
    for attempt in 0..50 {
        // Codes counted up from aaa-aaaa-aaa (the real one is random: a clash is 1 in 10^14).
        let letters: String = (0..10)
            .map(|place| char::from(b'a' + ((attempt / 26usize.pow(place)) % 26) as u8))
            .collect();
        let code = confab_ipc::MeetingCode::parse(&letters).expect("code");
        assert_ne!(code, created.ticket.code);
        match client.join(&code, "Guesser").await {
            Err(ClientError::Refused { kind, .. }) if kind == "no-such-meeting" => {}
            Err(ClientError::Refused {
                status: 429,
                retry_after,
                ..
            }) => {
                refused = Some((attempt, retry_after));
                break;
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    let (attempt, retry_after) = refused.expect("guessing was never stopped");
    assert_eq!(attempt, confab_conference::limiter::BURST as usize);
    assert!(
        retry_after.is_some_and(|wait| wait.as_secs() >= 1),
        "{retry_after:?}"
    );
    // Even the right code is refused while the address is blocked.
    let right = client.join(&created.ticket.code, "Guesser").await;
    assert!(
        matches!(right, Err(ClientError::Refused { status: 429, .. })),
        "{right:?}"
    );
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_mute_remove_and_promote_and_files_arrive_with_safe_names() {
    let (sfu, client) = start_host().await;
    let (ada, created, mut ada_events) = open_meeting(&client, false).await;
    let (bob, mut bob_events) = join(&client, &created.ticket.code, "Bob").await;
    let (carol, mut carol_events) = join(&client, &created.ticket.code, "Carol").await;
    let carol_downloads = options("Carol").downloads;
    assert!(!bob.is_waiting(), "no waiting room: straight in");
    bob.admitted().await.expect("admitted");

    // Bob's microphone, muted by the host: Bob is told.
    let mic = bob
        .room()
        .await
        .expect("room")
        .publish_track(TrackOptions::microphone())
        .await
        .expect("publish");
    let mic_sid = mic.sid();
    let _audio = synthetic::stream_audio(mic);
    wait_for_room(&mut ada_events, "Bob's microphone", |event| match event {
        RoomEvent::TrackPublished { track, .. } if track.sid == mic_sid => Some(()),
        _ => None,
    })
    .await;
    ada.mute(&bob.identity(), &mic_sid).await.expect("mute");
    wait_for_room(&mut bob_events, "the host's mute", |event| match event {
        RoomEvent::LocalTrackMuted {
            track_sid,
            muted: true,
        } if *track_sid == mic_sid => Some(()),
        _ => None,
    })
    .await;

    // A file whose sender named it to escape the downloads folder lands inside it.
    let outgoing = std::env::temp_dir().join(format!("confab-evil-{}.txt", std::process::id()));
    std::fs::write(&outgoing, b"not a system file").expect("write");
    let options = StreamOptions {
        name: Some("../../../../tmp/evil.sh".into()),
        destinations: vec![carol.identity()],
        ..Default::default()
    };
    let send = bob
        .room()
        .await
        .expect("room")
        .send_file(&outgoing, options)
        .await
        .expect("send");
    let reader = match take(&mut carol_events, "Bob's file", |event| {
        matches!(event, MeetingEvent::Room(RoomEvent::ByteStream(_)))
    })
    .await
    {
        MeetingEvent::Room(RoomEvent::ByteStream(reader)) => reader,
        other => unreachable!("{other:?}"),
    };
    let progress = tokio::sync::watch::Sender::new(0);
    let saved = carol.save_file(reader, &progress).await.expect("saved");
    let sent = send.finish().await.expect("sent");
    assert_eq!(saved.sha256, sent.sha256);
    assert!(saved.verified);
    let downloads = std::fs::canonicalize(carol_downloads).expect("downloads");
    assert_eq!(
        saved
            .path
            .parent()
            .map(std::fs::canonicalize)
            .transpose()
            .expect("dir"),
        Some(downloads)
    );
    assert_eq!(
        saved.path.file_name().and_then(|n| n.to_str()),
        Some("evil.sh")
    );
    assert_eq!(
        std::fs::read(&saved.path).expect("read"),
        b"not a system file"
    );

    // Promote Bob: he can run the waiting room too.
    ada.promote(&bob.identity()).await.expect("promote");
    wait_for(&mut bob_events, "co-host role", |event| match event {
        MeetingEvent::Roles(roles) if roles.co_hosts.contains(&bob.identity()) => Some(()),
        _ => None,
    })
    .await;
    // The co-host's host token was fetched before the role was announced.
    bob.waiting_list()
        .await
        .expect("a co-host reads the waiting list");
    assert!(matches!(
        carol.waiting_list().await,
        Err(confab_meeting::MeetingError::NotHost)
    ));

    // Carol is removed by the host.
    ada.remove(&carol.identity()).await.expect("remove");
    let end = ended(&mut carol_events).await;
    assert_eq!(end, MeetingEnd::Removed);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_hosting_app_quits_everyone_is_told_why() {
    let (sfu, client) = start_host().await;
    let (_ada, created, _ada_events) = open_meeting(&client, false).await;
    let (bob, mut bob_events) = join(&client, &created.ticket.code, "Bob").await;
    bob.admitted().await.expect("admitted");
    // The host's app closing shuts its SFU down.
    sfu.shutdown().await.expect("shutdown");
    let end = ended(&mut bob_events).await;
    assert_eq!(end, MeetingEnd::HostClosedApp);
    assert_eq!(end.message(), "The meeting ended: the host closed Confab");
}

/// A raw request to the conference API: (status, body).
async fn raw(sfu: &RunningSfu, route: &str, body: Vec<u8>, bearer: Option<&str>) -> (u16, String) {
    let url = format!("http://{}/api/conference/{route}", sfu.local_addr());
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let (sfu, client) = start_host().await;
    let (ada, created, mut ada_events) = open_meeting(&client, true).await;
    let kind = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).expect("a JSON error")["error"]
            .as_str()
            .map(str::to_owned)
    };

    let (status, body) = raw(&sfu, "join", b"{".to_vec(), None).await;
    assert_eq!(
        (status, kind(&body).as_deref()),
        (400, Some("invalid-request")),
        "{body}"
    );
    let (status, body) = raw(&sfu, "create", br#"{"host_name":"Eve"}"#.to_vec(), None).await;
    assert_eq!(
        (status, kind(&body).as_deref()),
        (401, Some("unauthorized")),
        "{body}"
    );
    // A participant's token cannot open meetings; a token signed elsewhere is nothing.
    let guest = client
        .join(&created.ticket.code, "Eve")
        .await
        .expect("join");
    let create = br#"{"host_name":"Eve"}"#.to_vec();
    let (status, body) = raw(&sfu, "create", create, Some(&guest.token)).await;
    assert_eq!(
        (status, kind(&body).as_deref()),
        (403, Some("forbidden")),
        "{body}"
    );
    let forged = create_token(KEY, "another-secret-another-secret-another");
    let (status, body) = raw(&sfu, "admit", br#"{"all":true}"#.to_vec(), Some(&forged)).await;
    assert_eq!(
        (status, kind(&body).as_deref()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, _) = raw(&sfu, "join", vec![b' '; 64 * 1024], None).await;
    assert_eq!(
        status, 413,
        "a body over the limit is refused before it is read"
    );

    // A name with control characters is shown without them.
    let ticket = client
        .join(&created.ticket.code, "\u{1b}[31mMallory\u{7}\n")
        .await
        .expect("join");
    client.knock(&ticket.token).await.expect("knock");
    let shown = wait_for(&mut ada_events, "the cleaned name", |event| match event {
        MeetingEvent::WaitingList(list) => list
            .waiting
            .iter()
            .find(|g| g.identity == ticket.identity)
            .map(|g| g.name.clone()),
        _ => None,
    })
    .await
    .0;
    assert_eq!(shown, "[31mMallory");
    // Nothing above changed the meeting: the host still runs it.
    assert!(ada.waiting_list().await.is_ok());
    sfu.shutdown().await.expect("shutdown");
}
