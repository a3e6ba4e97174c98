//! The SFU's signalling over real loopback sockets: what a LiveKit client sees when it connects
//! to `/rtc`, joins, pings, is rejected, is replaced or is shut down.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test]
async fn join_response_is_first_and_has_what_sdks_require() {
    let sfu = start_sfu().await;
    let (_socket, join) = join(&sfu, "standup", "ada").await;
    let me = join.participant.expect("participant");
    assert!(me.sid.starts_with("PA_"), "{}", me.sid);
    assert_eq!(me.identity, "ada");
    assert!(
        me.permission
            .is_some_and(|p| p.can_publish && p.can_subscribe)
    );
    let room = join.room.expect("room");
    assert!(room.sid.starts_with("RM_"));
    assert_eq!(room.name, "standup");
    let info = join.server_info.expect("server info");
    assert_eq!(info.protocol, 17);
    let version: Vec<u32> = info
        .version
        .split('.')
        .map(|part| part.parse().expect("numeric"))
        .collect();
    assert!(
        version.len() == 3 && (version[0], version[1]) >= (1, 8),
        "{version:?}"
    );
    assert!(join.ping_interval > 0 && join.ping_timeout > 0);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn participants_see_each_other_join_and_leave() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut bob, bob_join) = join(&sfu, "standup", "bob").await;
    assert_eq!(bob_join.other_participants.len(), 1);
    assert_eq!(bob_join.other_participants[0].identity, "ada");

    let Response::Update(update) = next(&mut ada).await else {
        panic!("ada was not told about bob");
    };
    assert_eq!(update.participants[0].identity, "bob");
    let joined_version = update.participants[0].version;

    send(
        &mut bob,
        Request::Leave(proto::LeaveRequest {
            reason: proto::DisconnectReason::ClientInitiated as i32,
            ..Default::default()
        }),
    )
    .await;
    let Response::Update(update) = next(&mut ada).await else {
        panic!("ada was not told bob left");
    };
    let bob_info = &update.participants[0];
    assert_eq!(bob_info.identity, "bob");
    assert_eq!(
        bob_info.state,
        proto::participant_info::State::Disconnected as i32
    );
    assert!(bob_info.version > joined_version);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn rooms_are_separate() {
    let sfu = start_sfu().await;
    let (_ada, _) = join(&sfu, "room-a", "ada").await;
    let (_bob, bob_join) = join(&sfu, "room-b", "bob").await;
    assert!(bob_join.other_participants.is_empty());
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_authorization_header_is_accepted_like_the_query_parameter() {
    let sfu = start_sfu().await;
    let mut request = format!("ws://{}/rtc?protocol=17", sfu.local_addr())
        .into_client_request()
        .expect("request");
    let value = format!("Bearer {}", join_token("standup", "rusty"))
        .parse()
        .expect("header value");
    request.headers_mut().insert("Authorization", value);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert!(matches!(next(&mut socket).await, Response::Join(_)));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade_with_a_reason() {
    let sfu = start_sfu().await;
    let forged = AccessToken::with_api_key(KEY, "not-the-secret-not-the-secret-xxx")
        .with_identity("mallory")
        .with_grants(VideoGrants {
            room_join: true,
            room: "standup".into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token");
    let no_join = token_with(
        VideoGrants {
            room: "standup".into(),
            ..Default::default()
        },
        "eve",
    );
    // Signed with the right key, but long past its expiry. (Creating `forged` above installed
    // the HS256 provider jsonwebtoken needs.)
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &livekit_api::access_token::Claims {
            exp: 1_000,
            iss: KEY.into(),
            sub: "late".into(),
            video: VideoGrants {
                room_join: true,
                room: "standup".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    for (token, status, reason) in [
        (forged.as_str(), 401, "signature is invalid"),
        (expired.as_str(), 401, "token is expired"),
        ("garbage", 401, "invalid authorization token"),
        (no_join.as_str(), 401, "permissions denied"),
        ("", 401, "no access token"),
    ] {
        match connect(&sfu, token).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status, "{reason}");
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned();
                assert!(body.contains(reason), "{body:?} should mention {reason:?}");
                assert!(
                    !body.contains(token) || token.is_empty(),
                    "token echoed back"
                );
            }
            other => panic!("{reason}: expected an HTTP refusal, got {other:?}"),
        }
    }
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn validate_answers_success_or_the_reason() {
    let sfu = start_sfu().await;
    let good = join_token("standup", "ada");
    let (status, body) = http_get(
        sfu.local_addr(),
        &format!("/rtc/validate?access_token={good}"),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "success"));
    let (status, body) = http_get(sfu.local_addr(), "/rtc/validate?access_token=nope").await;
    assert_eq!(status, 401);
    assert!(body.contains("invalid authorization token"), "{body}");
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn single_pc_paths_answer_404_so_the_browser_sdk_falls_back() {
    let sfu = start_sfu().await;
    let good = join_token("standup", "ada");
    for path in ["/rtc/v1", "/rtc/v1/validate"] {
        let (status, body) =
            http_get(sfu.local_addr(), &format!("{path}?access_token={good}")).await;
        assert_eq!(status, 404, "{path}");
        // The browser SDK treats this phrase as "room missing" and would not fall back.
        assert!(!body.contains("requested room does not exist"), "{body}");
    }
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn pings_are_answered_in_both_forms() {
    let sfu = start_sfu().await;
    let (mut socket, _) = join(&sfu, "standup", "ada").await;
    send(&mut socket, Request::Ping(1234)).await;
    assert_eq!(next(&mut socket).await, Response::Pong(1234));
    send(
        &mut socket,
        Request::PingReq(proto::Ping {
            timestamp: 99,
            rtt: 5,
        }),
    )
    .await;
    let Response::PongResp(pong) = next(&mut socket).await else {
        panic!("expected pong_resp");
    };
    assert_eq!(pong.last_ping_timestamp, 99);
    assert!(pong.timestamp > 0);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn json_requests_get_json_answers() {
    let sfu = start_sfu().await;
    let (mut socket, _) = join(&sfu, "standup", "ada").await;
    // The subscriber offer went out before the client chose JSON.
    assert!(matches!(next_any(&mut socket).await, Response::Offer(_)));
    socket
        .send(Message::Text(r#"{"ping": "77"}"#.into()))
        .await
        .expect("send");
    let frame = tokio::time::timeout(DEADLINE, socket.next())
        .await
        .expect("answer")
        .expect("open")
        .expect("frame");
    let Message::Text(text) = frame else {
        panic!("expected a JSON text frame, got {frame:?}");
    };
    let response: proto::SignalResponse = serde_json::from_str(text.as_str()).expect("json");
    assert_eq!(response.message, Some(Response::Pong(77)));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_second_connection_with_the_same_identity_replaces_the_first() {
    let sfu = start_sfu().await;
    let (mut first, _) = join(&sfu, "standup", "ada").await;
    let (_second, second_join) = join(&sfu, "standup", "ada").await;
    assert!(second_join.other_participants.is_empty());
    let Response::Leave(leave) = next(&mut first).await else {
        panic!("the first connection was not told to leave");
    };
    assert_eq!(
        leave.reason,
        proto::DisconnectReason::DuplicateIdentity as i32
    );
    assert_eq!(closed(&mut first).await, Some(1000));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn garbage_removes_only_the_sender() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut mallory, _) = join(&sfu, "standup", "mallory").await;
    let _ = next(&mut ada).await; // mallory joined
    mallory
        .send(Message::Binary(vec![0xff, 0xff, 0xff, 0x0f].into()))
        .await
        .expect("send garbage");
    assert!(matches!(next(&mut mallory).await, Response::Leave(_)));
    assert_eq!(closed(&mut mallory).await, Some(1007));

    let Response::Update(update) = next(&mut ada).await else {
        panic!("ada was not told mallory left");
    };
    assert_eq!(
        update.participants[0].state,
        proto::participant_info::State::Disconnected as i32
    );
    send(&mut ada, Request::Ping(5)).await;
    assert_eq!(next(&mut ada).await, Response::Pong(5));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn shutdown_tells_everyone_why() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut bob, _) = join(&sfu, "other", "bob").await;
    let shutdown = tokio::spawn(sfu.shutdown());
    for socket in [&mut ada, &mut bob] {
        let Response::Leave(leave) = next(socket).await else {
            panic!("no leave on shutdown");
        };
        assert_eq!(leave.reason, proto::DisconnectReason::ServerShutdown as i32);
        assert_eq!(closed(socket).await, Some(1000));
    }
    tokio::time::timeout(DEADLINE, shutdown)
        .await
        .expect("shutdown completes")
        .expect("task")
        .expect("clean");
}

#[tokio::test]
async fn resuming_an_unknown_session_is_answered_with_a_full_reconnect() {
    let sfu = start_sfu().await;
    let url = format!(
        "ws://{}/rtc?access_token={}&reconnect=1&sid=PA_gone",
        sfu.local_addr(),
        join_token("standup", "ada")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let first = next(&mut socket).await;
    let Response::Leave(leave) = first else {
        panic!("expected a leave first, got {first:?}");
    };
    assert_eq!(leave.reason, proto::DisconnectReason::StateMismatch as i32);
    assert_eq!(leave.action, proto::leave_request::Action::Reconnect as i32);
    assert_eq!(closed(&mut socket).await, Some(1000));
    // Nobody joined.
    let (_bob, join) = join(&sfu, "standup", "bob").await;
    assert!(join.other_participants.is_empty());
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_silent_connection_is_dropped_and_the_others_are_told() {
    let sfu = start_sfu_with(|config| config.signal_timeout = Duration::from_millis(300)).await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut ghost, _) = join(&sfu, "standup", "ghost").await;
    let _ = next(&mut ada).await; // ghost joined
    // Ada keeps talking; the ghost says nothing (its network "dropped").
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let update = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ghost was never dropped"
        );
        send(&mut ada, Request::Ping(1)).await;
        match next(&mut ada).await {
            Response::Pong(_) => {}
            Response::Update(update) => break update,
            other => panic!("unexpected {other:?}"),
        }
    };
    let gone = &update.participants[0];
    assert_eq!(gone.identity, "ghost");
    assert_eq!(
        gone.disconnect_reason,
        proto::DisconnectReason::ConnectionTimeout as i32
    );
    assert_eq!(closed(&mut ghost).await, Some(1001));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_subscriber_offer_follows_the_join_with_data_channels_and_our_address() {
    let sfu = start_sfu().await;
    let (mut socket, join) = join(&sfu, "standup", "ada").await;
    assert!(join.subscriber_primary);
    let Response::Offer(offer) = next_any(&mut socket).await else {
        panic!("the subscriber offer must follow the join");
    };
    assert_eq!(offer.r#type, "offer");
    assert!(offer.id > 0);
    assert!(offer.sdp.contains("m=application"), "{}", offer.sdp);
    assert!(offer.sdp.contains("a=ice-lite"), "{}", offer.sdp);
    let media = sfu.media_addr();
    assert_eq!(media.ip().to_string(), "127.0.0.1");
    let candidate = format!("{} {} typ host", media.ip(), media.port());
    assert!(offer.sdp.contains(&candidate), "{}", offer.sdp);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_oversize_frame_drops_only_its_sender() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut mallory, _) = join(&sfu, "standup", "mallory").await;
    let _ = next(&mut ada).await; // mallory joined
    let huge = vec![0u8; 2 << 20];
    // The server may close before the whole frame is written.
    let _ = mallory.send(Message::Binary(huge.into())).await;
    assert_eq!(closed(&mut mallory).await, Some(1009));

    let Response::Update(update) = next(&mut ada).await else {
        panic!("ada was not told mallory left");
    };
    assert_eq!(update.participants[0].identity, "mallory");
    assert_eq!(
        update.participants[0].state,
        proto::participant_info::State::Disconnected as i32
    );
    send(&mut ada, Request::Ping(6)).await;
    assert_eq!(next(&mut ada).await, Response::Pong(6));
    sfu.shutdown().await.expect("shutdown");
}
