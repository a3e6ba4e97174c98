//! The client engine (`Room`) against the embedded SFU, in-process over loopback.

mod common;

use common::join_token;
use confab_rtc::room::{CONNECT_TIMEOUT, DisconnectReason, Room, RoomError, RoomOptions};
use confab_sfu::RunningSfu;

const KEY: &str = "APIroom";
const SECRET: &str = "room-secret-room-secret-room-secret";

async fn start_sfu() -> RunningSfu {
    common::start_sfu(KEY, SECRET).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_media_chat_and_mute() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::two_clients_exchange_media_chat_and_mute(&url, |identity| {
        join_token(KEY, SECRET, "media", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_calls_and_their_failures() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::rpc_calls_and_their_failures(&url, |identity| {
        join_token(KEY, SECRET, "rpc", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_flowing_layer_reaches_a_subscriber_wanting_more() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::the_only_flowing_layer_reaches_a_subscriber_wanting_more(&url, |identity| {
        join_token(KEY, SECRET, "layers", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_subscription_brings_and_ends_a_track() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::manual_subscription_brings_and_ends_a_track(&url, |identity| {
        join_token(KEY, SECRET, "manual", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auto_subscribe_only_the_asked_for_track_arrives() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::without_auto_subscribe_only_the_asked_for_track_arrives(&url, |identity| {
        join_token(KEY, SECRET, "asked", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_track_is_declined_until_subscribed_again() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::a_dropped_track_is_declined_until_subscribed_again(&url, |identity| {
        join_token(KEY, SECRET, "dropped", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_hears_which_layers_its_subscriber_wants() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::the_publisher_hears_which_layers_its_subscriber_wants(&url, |identity| {
        join_token(KEY, SECRET, "dynacast", identity)
    })
    .await;
}

/// ICE that can never succeed (the SFU names an address nothing answers on as its candidate)
/// ends the connect with a clear error, neither a hang nor a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_that_never_connects_is_a_clear_error() {
    let nobody = std::net::IpAddr::from([127, 0, 0, 9]);
    let sfu =
        common::start_sfu_with(KEY, SECRET, |config| config.media.node_ip = Some(nobody)).await;
    let url = format!("http://{}", sfu.local_addr());
    let token = join_token(KEY, SECRET, "unreachable", "alice");
    let connecting = Room::connect(&url, &token, RoomOptions::default());
    // Bounds a hang only: the connect gives up on its own well before.
    let outcome = tokio::time::timeout(CONNECT_TIMEOUT * 4, connecting)
        .await
        .expect("the connect gave up");
    let Err(error) = outcome else {
        panic!("connected although no candidate answers");
    };
    eprintln!("connect failed: {error}");
    assert!(
        matches!(
            error,
            RoomError::ConnectTimeout(_)
                | RoomError::Disconnected(DisconnectReason::ConnectionLost(_))
        ),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_stops_and_starts_again_while_the_camera_runs() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::a_share_stops_and_starts_again_while_the_camera_runs(&url, |identity| {
        join_token(KEY, SECRET, "share", identity)
    })
    .await;
}
