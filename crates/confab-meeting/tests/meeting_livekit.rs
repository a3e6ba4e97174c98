//! A meeting run by `confab server --livekit-url` in front of a real two-node `livekit-server`
//! cluster sharing a Redis: the host on one node, guests on the other; guests wait in a lobby
//! room where they see nothing and reach nobody, and move into the meeting when admitted.

mod common;

use std::net::SocketAddr;

use common::cluster::{Cluster, DEV_KEY, DEV_SECRET};
use common::*;
use confab_conference::Signer;
use confab_conference::models::CreateRequest;
use confab_conference::server::RunningConference;
use confab_meeting::{ClientError, ConferenceClient, Meeting, MeetingEnd, MeetingError};
use confab_rtc::room::{DataOptions, TrackOptions};
use confab_rtc::synthetic;

/// Short, so the test of a hostless meeting does not wait the default 30 s.
const HOSTLESS_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

struct Deployment {
    cluster: Cluster,
    conference: RunningConference,
    client: ConferenceClient,
}

/// The cluster, and the conference API in front of it handing out the second node's URL.
async fn deploy() -> Deployment {
    init_logs();
    let cluster = Cluster::start();
    let conference = confab_conference::server::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &cluster.nodes[1].url,
        Signer::new(DEV_KEY, DEV_SECRET),
        None,
        HOSTLESS_GRACE,
    )
    .await
    .expect("conference API");
    let client = ConferenceClient::new(&conference.local_addr().to_string()).expect("client");
    Deployment {
        cluster,
        conference,
        client,
    }
}

/// Opens a meeting and enters it as host on the *first* node.
async fn host_on_first_node(deployment: &Deployment) -> (Meeting, confab_ipc::MeetingCode, Events) {
    let request = CreateRequest {
        host_name: "Ada".into(),
        title: "Cluster standup".into(),
        waiting_room: true,
        ..Default::default()
    };
    let created = deployment
        .client
        .create(&create_token(DEV_KEY, DEV_SECRET), &request)
        .await
        .expect("create");
    assert_eq!(created.ticket.server_url, deployment.cluster.nodes[1].url);
    let mut ticket = created.ticket.clone();
    ticket.server_url = deployment.cluster.nodes[0].url.clone();
    let (ada, events) = Meeting::enter(deployment.client.clone(), ticket, options("ada-lk"))
        .await
        .expect("host enters");
    (ada, created.ticket.code, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_wait_in_a_lobby_on_another_node_and_are_let_in() {
    let deployment = deploy().await;
    let (ada, code, mut ada_events) = host_on_first_node(&deployment).await;
    let mic = ada
        .room()
        .await
        .expect("room")
        .publish_track(TrackOptions::microphone())
        .await
        .expect("publish");
    let _audio = synthetic::stream_audio(mic);
    ada.send_chat("the agenda is short", &[])
        .await
        .expect("chat");

    let (bob, mut bob_events) = join(&deployment.client, &code, "Bob").await;
    assert!(bob.is_waiting());
    assert!(
        bob.ticket().room.ends_with("-lobby"),
        "{:?}",
        bob.ticket().room
    );
    let bob_id = host_sees_waiting(&mut ada_events, "Bob").await;

    // Waiting: nothing published, nothing sent reaches anyone, no host route.
    {
        let lobby = bob.room().await.expect("room");
        assert!(
            lobby
                .publish_track(TrackOptions::microphone())
                .await
                .is_err()
        );
        lobby
            .publish_data(b"before admission".to_vec(), &DataOptions::default())
            .await
            .ok();
    }
    let refused = deployment
        .client
        .admit(&bob.ticket().token, Some(&bob_id))
        .await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    ada.send_chat("said while Bob waits", &[])
        .await
        .expect("chat");

    ada.admit(&bob_id).await.expect("admit");
    let waited = admitted_having_seen_nothing(&mut bob_events).await;
    assert!(
        !bob.ticket().room.ends_with("-lobby"),
        "moved into the meeting"
    );

    // In the meeting: the history (both messages, one said while Bob waited), Ada, her voice.
    let (history, mut seen) = chat_history(&waited, &mut bob_events).await;
    let said: Vec<&str> = history.iter().map(|entry| entry.message.as_str()).collect();
    assert_eq!(said, ["the agenda is short", "said while Bob waits"]);
    first_track_of(&mut seen, &mut bob_events, &ada.identity()).await;

    only_data_after_admission(&bob, &mut ada_events).await;

    ada.end_for_all().await.expect("end");
    let end = ended(&mut bob_events).await;
    assert_eq!(end, MeetingEnd::EndedByHost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_guest_leaves_the_lobby_with_the_reason() {
    let deployment = deploy().await;
    let (ada, code, mut ada_events) = host_on_first_node(&deployment).await;
    let (mallory, mut mallory_events) = join(&deployment.client, &code, "Mallory").await;
    let mallory_id = host_sees_waiting(&mut ada_events, "Mallory").await;
    assert!(matches!(
        mallory.send_chat("hello?", &[]).await,
        Err(MeetingError::StillWaiting)
    ));
    ada.deny(&mallory_id).await.expect("deny");
    let end = ended(&mut mallory_events).await;
    assert_eq!(end, MeetingEnd::Denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_whose_host_left_ends_for_everyone_with_the_reason() {
    let deployment = deploy().await;
    let (ada, code, mut ada_events) = host_on_first_node(&deployment).await;
    let (bob, mut bob_events) = join(&deployment.client, &code, "Bob").await;
    let bob_id = host_sees_waiting(&mut ada_events, "Bob").await;
    ada.admit(&bob_id).await.expect("admit");
    tokio::time::timeout(DEADLINE, bob.admitted())
        .await
        .expect("admitted in time")
        .expect("admitted");
    // The server's watch (every 2 s) sees the host once; then the host's app goes away and
    // the watch notices within its grace period.
    deployment.conference.conference().watch_once().await;
    ada.leave().await.expect("leave");
    let end = ended(&mut bob_events).await;
    assert_eq!(end, MeetingEnd::HostsLeft);
    assert_eq!(end.message(), "The meeting ended: the host left");
    let gone = deployment.client.join(&code, "Late").await;
    assert!(
        matches!(&gone, Err(ClientError::Refused { status: 404, .. })),
        "{gone:?}"
    );
}
