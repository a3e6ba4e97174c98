//! The signalling client against a real `livekit-server` (`--dev`, loopback), the binary
//! `cargo xtask test` builds and names in `CONFAB_LIVEKIT_SERVER`.

mod common;

use common::livekit::{DEV_KEY, DEV_SECRET, LiveKitServer};
use common::{arrives_then_leaves, join_token, left_with};
use confab_rtc::room::RoomOptions;
use confab_rtc::signal::{self, JoinQuery, SignalError};
use livekit_protocol as proto;

fn token(secret: &str, room: &str, identity: &str) -> String {
    join_token(DEV_KEY, secret, room, identity)
}

/// One server for every check: it takes seconds to start.
#[tokio::test]
async fn joins_a_real_livekit_server_and_follows_the_room() {
    let server = LiveKitServer::start();
    let query = JoinQuery::default();

    let mut alice = signal::connect(&server.url, &token(DEV_SECRET, "standup", "alice"), &query)
        .await
        .expect("alice joins");
    // livekit-server 1.9 takes `/rtc/v1`: one peer connection, the client offering.
    assert!(alice.single_peer_connection);
    assert!(!alice.join.subscriber_primary);
    let me = alice.join.participant.as_ref().expect("participant");
    assert_eq!(me.identity, "alice");
    assert!(me.sid.starts_with("PA_"), "{}", me.sid);
    assert_eq!(alice.join.room.as_ref().expect("room").name, "standup");
    assert!(alice.join.ping_interval > 0 && alice.join.ping_timeout > 0);

    let bob = signal::connect(&server.url, &token(DEV_SECRET, "standup", "bob"), &query)
        .await
        .expect("bob joins");
    assert!(
        bob.join
            .other_participants
            .iter()
            .any(|p| p.identity == "alice"),
        "{:?}",
        bob.join.other_participants
    );
    arrives_then_leaves(&mut alice.events, bob, "bob").await;

    // A token signed with another secret: refused before the upgrade, with the server's reason.
    let forged = token("another-secret", "standup", "mallory");
    let error = signal::connect(&server.url, &forged, &query)
        .await
        .expect_err("refused");
    let SignalError::Refused { status, reason } = error else {
        panic!("expected a refusal, got {error:?}");
    };
    assert_eq!(status, 401, "{reason}");
    assert!(!reason.is_empty());

    // The same identity again: the first connection ends with that reason.
    let _again = signal::connect(&server.url, &token(DEV_SECRET, "standup", "alice"), &query)
        .await
        .expect("alice joins again");
    left_with(
        &mut alice.events,
        proto::DisconnectReason::DuplicateIdentity,
    )
    .await;
}

/// Two Confab clients exchange media, mute state, chat and data through a real server, each
/// on one peer connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_media_chat_and_mute_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::two_clients_exchange_media_chat_and_mute_with(
        &server.url,
        |identity| token(DEV_SECRET, "media", identity),
        RoomOptions::default(),
        true,
    )
    .await;
}

/// The same with LiveKit's publisher and subscriber connections, as servers without
/// `/rtc/v1` (and clients that ask for them) use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peer_connections_exchange_media_chat_and_mute_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    let options = RoomOptions {
        single_peer_connection: false,
        ..RoomOptions::default()
    };
    common::scenarios::two_clients_exchange_media_chat_and_mute_with(
        &server.url,
        |identity| token(DEV_SECRET, "media", identity),
        options,
        false,
    )
    .await;
}

/// RPC between two Confab clients through a real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_calls_and_their_failures_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::rpc_calls_and_their_failures(&server.url, |identity| {
        token(DEV_SECRET, "rpc", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_flowing_layer_reaches_a_subscriber_wanting_more_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::the_only_flowing_layer_reaches_a_subscriber_wanting_more(
        &server.url,
        |identity| token(DEV_SECRET, "layers", identity),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_subscribe_only_the_asked_for_track_arrives_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::without_auto_subscribe_only_the_asked_for_track_arrives(
        &server.url,
        |identity| token(DEV_SECRET, "asked", identity),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_track_is_declined_until_subscribed_again_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::a_dropped_track_is_declined_until_subscribed_again(
        &server.url,
        |identity| token(DEV_SECRET, "dropped", identity),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_subscription_brings_and_ends_a_track_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::manual_subscription_brings_and_ends_a_track(&server.url, |identity| {
        token(DEV_SECRET, "manual", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_hears_which_layers_its_subscriber_wants_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::the_publisher_hears_which_layers_its_subscriber_wants(&server.url, |id| {
        token(DEV_SECRET, "dynacast", id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_stops_and_starts_again_while_the_camera_runs_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::a_share_stops_and_starts_again_while_the_camera_runs(
        &server.url,
        |identity| token(DEV_SECRET, "share", identity),
    )
    .await;
}
