//! The Twirp RoomService with connected participants: what administrators can do and what the
//! affected participants observe.

mod common;

use common::*;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use proto::signal_response::Message as Response;

#[tokio::test]
async fn create_list_and_delete_rooms() {
    let sfu = start_sfu().await;
    let admin = admin_token("");
    let created = create_room(
        &sfu,
        proto::CreateRoomRequest {
            name: "board".into(),
            metadata: "{\"topic\":\"q3\"}".into(),
            max_participants: 10,
            ..Default::default()
        },
    )
    .await;
    assert!(created.sid.starts_with("RM_"));
    assert_eq!(created.metadata, "{\"topic\":\"q3\"}");

    let listed: proto::ListRoomsResponse = twirp(
        sfu.local_addr(),
        "ListRooms",
        &admin,
        &proto::ListRoomsRequest::default(),
    )
    .await
    .expect("listed");
    assert_eq!(listed.rooms.len(), 1);
    assert_eq!(
        listed.rooms[0].sid, created.sid,
        "an empty created room is kept"
    );

    let _: proto::DeleteRoomResponse = twirp(
        sfu.local_addr(),
        "DeleteRoom",
        &admin,
        &proto::DeleteRoomRequest {
            room: "board".into(),
        },
    )
    .await
    .expect("deleted");
    let missing = twirp::<_, proto::DeleteRoomResponse>(
        sfu.local_addr(),
        "DeleteRoom",
        &admin,
        &proto::DeleteRoomRequest {
            room: "board".into(),
        },
    )
    .await;
    let (status, body) = missing.expect_err("already deleted");
    assert_eq!(status, 404);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn deleting_a_room_disconnects_everyone_with_room_deleted() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let _: proto::DeleteRoomResponse = twirp(
        sfu.local_addr(),
        "DeleteRoom",
        &admin_token("standup"),
        &proto::DeleteRoomRequest {
            room: "standup".into(),
        },
    )
    .await
    .expect("deleted");
    let Response::Leave(leave) = next(&mut ada).await else {
        panic!("no leave");
    };
    assert_eq!(leave.reason, proto::DisconnectReason::RoomDeleted as i32);
    assert_eq!(closed(&mut ada).await, Some(1000));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn list_get_and_remove_participants() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let (mut bob, _) = join(&sfu, "standup", "bob").await;
    let _ = next(&mut ada).await; // bob joined
    let admin = admin_token("standup");

    let listed: proto::ListParticipantsResponse = twirp(
        sfu.local_addr(),
        "ListParticipants",
        &admin,
        &proto::ListParticipantsRequest {
            room: "standup".into(),
        },
    )
    .await
    .expect("listed");
    let mut identities: Vec<_> = listed
        .participants
        .iter()
        .map(|p| p.identity.as_str())
        .collect();
    identities.sort_unstable();
    assert_eq!(identities, ["ada", "bob"]);

    let bob_info: proto::ParticipantInfo = twirp(
        sfu.local_addr(),
        "GetParticipant",
        &admin,
        &proto::RoomParticipantIdentity {
            room: "standup".into(),
            identity: "bob".into(),
            ..Default::default()
        },
    )
    .await
    .expect("found");
    assert!(bob_info.sid.starts_with("PA_"));

    let _: proto::RemoveParticipantResponse = twirp(
        sfu.local_addr(),
        "RemoveParticipant",
        &admin,
        &proto::RoomParticipantIdentity {
            room: "standup".into(),
            identity: "bob".into(),
            ..Default::default()
        },
    )
    .await
    .expect("removed");
    let Response::Leave(leave) = next(&mut bob).await else {
        panic!("bob got no leave");
    };
    assert_eq!(
        leave.reason,
        proto::DisconnectReason::ParticipantRemoved as i32
    );
    let Response::Update(update) = next(&mut ada).await else {
        panic!("ada was not told");
    };
    assert_eq!(update.participants[0].identity, "bob");
    assert_eq!(
        update.participants[0].disconnect_reason,
        proto::DisconnectReason::ParticipantRemoved as i32
    );
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn revoking_and_granting_permissions_reaches_the_participant() {
    let sfu = start_sfu().await;
    let (mut guest, join) = join(&sfu, "standup", "guest").await;
    assert!(
        join.participant
            .and_then(|p| p.permission)
            .is_some_and(|p| p.can_publish)
    );
    let admin = admin_token("standup");
    let revoke = proto::UpdateParticipantRequest {
        room: "standup".into(),
        identity: "guest".into(),
        permission: Some(proto::ParticipantPermission {
            can_subscribe: false,
            can_publish: false,
            can_publish_data: false,
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated: proto::ParticipantInfo =
        twirp(sfu.local_addr(), "UpdateParticipant", &admin, &revoke)
            .await
            .expect("updated");
    assert!(updated.permission.is_some_and(|p| !p.can_publish));
    let Response::Update(update) = next(&mut guest).await else {
        panic!("the participant was not told");
    };
    let seen = update.participants[0]
        .permission
        .clone()
        .expect("permission");
    assert!(!seen.can_publish && !seen.can_subscribe && !seen.can_publish_data);
    // A token with the new permissions, for reconnects, signed with the same key.
    let Response::RefreshToken(token) = next(&mut guest).await else {
        panic!("no refresh token after the permission change");
    };
    let claims = livekit_api::access_token::TokenVerifier::with_api_key(KEY, SECRET)
        .verify(&token)
        .expect("a token this server's key signed");
    assert_eq!(claims.sub, "guest");
    assert_eq!(claims.video.room, "standup");
    assert!(!claims.video.can_publish() && !claims.video.can_subscribe());

    let grant = proto::UpdateParticipantRequest {
        permission: Some(proto::ParticipantPermission {
            can_subscribe: true,
            can_publish: true,
            can_publish_data: true,
            ..Default::default()
        }),
        ..revoke
    };
    let _: proto::ParticipantInfo = twirp(sfu.local_addr(), "UpdateParticipant", &admin, &grant)
        .await
        .expect("updated");
    let Response::Update(update) = next(&mut guest).await else {
        panic!("the participant was not told");
    };
    assert!(
        update.participants[0]
            .permission
            .as_ref()
            .is_some_and(|p| p.can_publish)
    );
    assert!(update.participants[0].version > 2);
    assert!(matches!(next(&mut guest).await, Response::RefreshToken(_)));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn room_metadata_updates_reach_participants() {
    let sfu = start_sfu().await;
    let (mut ada, _) = join(&sfu, "standup", "ada").await;
    let room: proto::Room = twirp(
        sfu.local_addr(),
        "UpdateRoomMetadata",
        &admin_token("standup"),
        &proto::UpdateRoomMetadataRequest {
            room: "standup".into(),
            metadata: "locked".into(),
        },
    )
    .await
    .expect("updated");
    assert_eq!(room.metadata, "locked");
    let Response::RoomUpdate(update) = next(&mut ada).await else {
        panic!("no room update");
    };
    assert_eq!(update.room.map(|r| r.metadata).as_deref(), Some("locked"));
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_full_room_refuses_the_next_participant() {
    let sfu = start_sfu().await;
    create_room(
        &sfu,
        proto::CreateRoomRequest {
            name: "duo".into(),
            max_participants: 1,
            ..Default::default()
        },
    )
    .await;
    let (_ada, _) = join(&sfu, "duo", "ada").await;
    let mut late = connect(&sfu, &join_token("duo", "bob"))
        .await
        .expect("upgrade");
    let Response::Leave(leave) = next(&mut late).await else {
        panic!("expected a refusal");
    };
    assert_eq!(leave.reason, proto::DisconnectReason::JoinFailure as i32);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn grants_are_enforced_per_method_and_room() {
    let sfu = start_sfu().await;
    let (_ada, _) = join(&sfu, "standup", "ada").await;
    let participant_token = join_token("standup", "ada");
    let other_room_admin = admin_token("elsewhere");
    let list = proto::ListParticipantsRequest {
        room: "standup".into(),
    };
    for token in [participant_token.as_str(), other_room_admin.as_str()] {
        let result = twirp::<_, proto::ListParticipantsResponse>(
            sfu.local_addr(),
            "ListParticipants",
            token,
            &list,
        )
        .await;
        let (status, body) = result.expect_err("must be refused");
        assert_eq!(status, 401);
        assert!(body.contains("permissions denied"), "{body}");
    }
    let forged = AccessToken::with_api_key(KEY, "wrong-secret-wrong-secret-wrong!!")
        .with_grants(VideoGrants {
            room_create: true,
            ..Default::default()
        })
        .to_jwt()
        .expect("token");
    let result = twirp::<_, proto::Room>(
        sfu.local_addr(),
        "CreateRoom",
        &forged,
        &proto::CreateRoomRequest {
            name: "x".into(),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = result.expect_err("forged token");
    assert_eq!(status, 401);
    assert!(body.contains("signature is invalid"), "{body}");
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn json_bodies_and_bad_requests_get_twirp_errors() {
    let sfu = start_sfu().await;
    let admin = admin_token("");
    let auth = format!("Bearer {admin}");
    let (status, body) = http_request(
        sfu.local_addr(),
        "POST",
        "/twirp/livekit.RoomService/CreateRoom",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"name": "json-room", "emptyTimeout": 60}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let room: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(room["name"], "json-room");
    assert_eq!(room["emptyTimeout"], 60);

    let (status, body) = http_request(
        sfu.local_addr(),
        "POST",
        "/twirp/livekit.RoomService/CreateRoom",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/protobuf"),
        ],
        &[0xff, 0xff, 0xff],
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("\"code\":\"malformed\""));

    let (status, _) = http_request(
        sfu.local_addr(),
        "POST",
        "/twirp/livekit.RoomService/NoSuchMethod",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 404);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_room_nobody_joins_closes_after_its_empty_timeout() {
    let sfu = start_sfu().await;
    let admin = admin_token("");
    create_room(
        &sfu,
        proto::CreateRoomRequest {
            name: "brief".into(),
            empty_timeout: 1,
            ..Default::default()
        },
    )
    .await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let listed: proto::ListRoomsResponse = twirp(
            sfu.local_addr(),
            "ListRooms",
            &admin,
            &proto::ListRoomsRequest::default(),
        )
        .await
        .expect("listed");
        if listed.rooms.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room outlived its one-second empty timeout"
        );
        // The timeout is a duration by definition: poll the observable room list.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sfu.shutdown().await.expect("shutdown");
}
