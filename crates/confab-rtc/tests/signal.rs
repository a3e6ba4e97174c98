//! The signalling client against the embedded SFU (in-process, loopback) and against scripted
//! misbehaving servers.

mod common;

use common::{DEADLINE, arrives_then_leaves, event_where, join_token, left_with, next_event};
use confab_rtc::signal::{self, JoinQuery, SignalClosed, SignalError, SignalEvent};
use confab_sfu::RunningSfu;
use futures_util::{SinkExt, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "APIrtc";
const SECRET: &str = "rtc-secret-rtc-secret-rtc-secret-rtc";

async fn start_sfu() -> RunningSfu {
    common::start_sfu(KEY, SECRET).await
}

fn token_signed_with(secret: &str, room: &str, identity: &str) -> String {
    join_token(KEY, secret, room, identity)
}

fn token(room: &str, identity: &str) -> String {
    token_signed_with(SECRET, room, identity)
}

fn url(sfu: &RunningSfu) -> String {
    format!("http://{}", sfu.local_addr())
}

async fn join(sfu: &RunningSfu, room: &str, identity: &str) -> signal::Joined {
    signal::connect(&url(sfu), &token(room, identity), &JoinQuery::default())
        .await
        .expect("joined")
}

#[tokio::test]
async fn joins_hears_the_next_participant_and_its_leave() {
    let sfu = start_sfu().await;
    let mut alice = join(&sfu, "standup", "alice").await;
    // Confab's SFU has no `/rtc/v1`: the 404 turns the join into two peer connections.
    assert!(!alice.single_peer_connection);
    assert!(alice.join.subscriber_primary);
    let me = alice.join.participant.as_ref().expect("participant");
    assert_eq!(me.identity, "alice");
    assert_eq!(alice.join.room.as_ref().expect("room").name, "standup");

    let bob = join(&sfu, "standup", "bob").await;
    assert_eq!(bob.join.other_participants.len(), 1);
    arrives_then_leaves(&mut alice.events, bob, "bob").await;
}

#[tokio::test]
async fn requests_reach_the_server() {
    let sfu = start_sfu().await;
    let mut alice = join(&sfu, "pings", "alice").await;
    alice
        .client
        .send(Request::PingReq(proto::Ping {
            timestamp: 42,
            rtt: 0,
        }))
        .await
        .expect("sent");
    let pong = event_where(
        &mut alice.events,
        |e| matches!(e, SignalEvent::Message(m) if matches!(m.as_ref(), Response::PongResp(_))),
    )
    .await;
    let SignalEvent::Message(message) = pong else {
        unreachable!("matched above")
    };
    let Response::PongResp(pong) = *message else {
        unreachable!("matched above")
    };
    assert_eq!(pong.last_ping_timestamp, 42);
}

#[tokio::test]
async fn a_token_with_the_wrong_signature_is_refused_with_the_servers_reason() {
    let sfu = start_sfu().await;
    let forged = token_signed_with("not-the-secret-not-the-secret-xx", "r", "mallory");
    let error = signal::connect(&url(&sfu), &forged, &JoinQuery::default())
        .await
        .expect_err("refused");
    let SignalError::Refused { status, reason } = error else {
        panic!("expected a refusal, got {error:?}");
    };
    assert_eq!(status, 401);
    assert!(reason.contains("signature"), "{reason}");
}

#[tokio::test]
async fn a_duplicate_identity_ends_the_first_connection_with_that_reason() {
    let sfu = start_sfu().await;
    let mut first = join(&sfu, "dup", "alice").await;
    let _second = join(&sfu, "dup", "alice").await;
    left_with(
        &mut first.events,
        proto::DisconnectReason::DuplicateIdentity,
    )
    .await;
}

#[tokio::test]
async fn a_server_shutdown_is_a_leave_with_its_reason() {
    let sfu = start_sfu().await;
    let mut alice = join(&sfu, "bye", "alice").await;
    sfu.shutdown().await.expect("shutdown");
    left_with(&mut alice.events, proto::DisconnectReason::ServerShutdown).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let error = signal::connect(
        &format!("ws://127.0.0.1:{port}"),
        "t",
        &JoinQuery::default(),
    )
    .await
    .expect_err("unreachable");
    assert!(matches!(error, SignalError::Unreachable(_)), "{error:?}");
}

/// A WebSocket server on loopback that plays `script` with the first client, then reports
/// every request the client sent until it closed.
async fn scripted_server(script: Vec<Message>) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let (requests_tx, requests) = mpsc::channel(64);
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        for message in script {
            if socket.send(message).await.is_err() {
                return;
            }
        }
        while let Some(Ok(frame)) = socket.next().await {
            if let Message::Binary(bytes) = frame
                && let Ok(request) = proto::SignalRequest::decode(bytes)
                && let Some(message) = request.message
            {
                let _ = requests_tx.send(message).await;
            }
        }
    });
    (format!("ws://{address}"), requests)
}

fn response_frame(message: Response) -> Message {
    let bytes = proto::SignalResponse {
        message: Some(message),
    }
    .encode_to_vec();
    Message::Binary(bytes.into())
}

fn join_frame(ping_interval: i32, ping_timeout: i32) -> Message {
    response_frame(Response::Join(proto::JoinResponse {
        ping_interval,
        ping_timeout,
        ..Default::default()
    }))
}

#[tokio::test]
async fn a_server_closing_mid_join_is_a_clear_error() {
    let (url, _) = scripted_server(vec![Message::Close(None)]).await;
    let error = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect_err("no join");
    assert!(matches!(error, SignalError::ClosedBeforeJoin), "{error:?}");
}

#[tokio::test]
async fn a_first_message_that_is_not_the_join_is_malformed() {
    let offer = response_frame(Response::Offer(proto::SessionDescription::default()));
    let (url, _) = scripted_server(vec![offer]).await;
    let error = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect_err("no join");
    assert!(matches!(error, SignalError::Malformed(_)), "{error:?}");
}

#[tokio::test]
async fn a_leave_instead_of_the_join_carries_its_reason() {
    let leave = response_frame(Response::Leave(proto::LeaveRequest {
        reason: proto::DisconnectReason::JoinFailure as i32,
        ..Default::default()
    }));
    let (url, _) = scripted_server(vec![leave]).await;
    let error = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect_err("no join");
    assert!(
        matches!(
            error,
            SignalError::LeftBeforeJoin {
                reason: proto::DisconnectReason::JoinFailure
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn garbage_after_the_join_ends_the_connection_as_a_protocol_error() {
    let garbage = Message::Binary(vec![0xff, 0xff, 0xff, 0x01, 0x02].into());
    let (url, _) = scripted_server(vec![join_frame(0, 0), garbage]).await;
    let mut joined = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect("joined");
    let event = next_event(&mut joined.events).await;
    assert!(
        matches!(event, SignalEvent::Closed(SignalClosed::ProtocolError(_))),
        "{event:?}"
    );
}

#[tokio::test]
async fn a_silent_server_is_pinged_then_given_up_after_its_ping_timeout() {
    // The server asks for pings every second and stays silent afterwards.
    let (url, mut requests) = scripted_server(vec![join_frame(1, 2)]).await;
    let mut joined = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect("joined");
    let ping = tokio::time::timeout(DEADLINE, requests.recv())
        .await
        .expect("a ping within the deadline")
        .expect("request");
    assert!(
        matches!(ping, Request::Ping(_) | Request::PingReq(_)),
        "{ping:?}"
    );
    let event = next_event(&mut joined.events).await;
    assert_eq!(event, SignalEvent::Closed(SignalClosed::PingTimeout));
}

#[tokio::test]
async fn leaving_sends_a_client_initiated_leave() {
    let (url, mut requests) = scripted_server(vec![join_frame(0, 0)]).await;
    let mut joined = signal::connect(&url, "t", &JoinQuery::default())
        .await
        .expect("joined");
    joined.client.leave().await.expect("leave");
    let request = tokio::time::timeout(DEADLINE, requests.recv())
        .await
        .expect("the leave within the deadline")
        .expect("request");
    let Request::Leave(leave) = request else {
        panic!("expected a leave, got {request:?}");
    };
    assert_eq!(leave.reason(), proto::DisconnectReason::ClientInitiated);
    let event = next_event(&mut joined.events).await;
    assert_eq!(event, SignalEvent::Closed(SignalClosed::ClosedByClient));
}

#[tokio::test]
async fn a_server_that_never_answers_the_upgrade_is_given_up_after_the_open_timeout() {
    // The TCP connection is accepted (the kernel's backlog), but no HTTP answer ever comes:
    // what a silently dropping network or a wedged proxy looks like.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let url = format!("ws://{}", listener.local_addr().expect("address"));
    let query = JoinQuery::default();
    let connecting = signal::connect(&url, "t", &query);
    let outcome = tokio::time::timeout(signal::OPEN_TIMEOUT + DEADLINE, connecting)
        .await
        .expect("the connect gives up by itself");
    let Err(SignalError::Unreachable(why)) = outcome else {
        panic!("expected Unreachable, got {:?}", outcome.map(|_| ()));
    };
    assert!(why.contains("no connection within"), "{why}");
    drop(listener);
}
