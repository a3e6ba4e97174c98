use super::*;

const NOW: UnixMillis = UnixMillis(1_700_000_000_123);

fn server() -> ServerDescription {
    ServerDescription {
        node_id: "ND_test".into(),
    }
}

fn grant(identity: &str) -> JoinGrant {
    JoinGrant {
        api_key: "APIkey".into(),
        identity: identity.into(),
        name: identity.to_uppercase(),
        room: "standup".into(),
        metadata: String::new(),
        attributes: Default::default(),
        permission: proto::ParticipantPermission {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true,
            ..Default::default()
        },
    }
}

fn room() -> Room {
    Room::new("RM_test".into(), "standup".into(), NOW)
}

fn responses_to<'a>(out: &'a [Outbound], sid: &str) -> Vec<&'a Response> {
    out.iter()
        .filter(|o| o.to == sid)
        .filter_map(|o| match &o.delivery {
            Delivery::Signal(signal) => signal.message.as_ref(),
            Delivery::Close(_) => None,
        })
        .collect()
}

fn closed(out: &[Outbound], sid: &str) -> bool {
    out.iter()
        .any(|o| o.to == sid && matches!(o.delivery, Delivery::Close(_)))
}

#[test]
fn join_response_carries_what_sdks_require() {
    let mut room = room();
    let out = room.join("PA_a", grant("ada"), NOW, &server());
    let [Response::Join(join)] = responses_to(&out, "PA_a")[..] else {
        panic!("expected exactly a JoinResponse: {out:?}");
    };
    let me = join.participant.as_ref().expect("participant");
    assert_eq!(me.sid, "PA_a");
    assert_eq!(me.identity, "ada");
    assert!(me.permission.as_ref().is_some_and(|p| p.can_publish));
    assert_eq!(join.room.as_ref().map(|r| r.sid.as_str()), Some("RM_test"));
    let info = join.server_info.as_ref().expect("server info");
    assert_eq!(info.protocol, PROTOCOL_VERSION);
    assert_eq!(info.version, COMPATIBLE_SERVER_VERSION);
    assert_eq!(join.server_version, COMPATIBLE_SERVER_VERSION);
    assert!(join.ping_interval > 0 && join.ping_timeout > join.ping_interval);
    assert!(join.subscriber_primary);
    assert!(join.other_participants.is_empty());
}

#[test]
fn newcomers_see_everyone_and_everyone_sees_newcomers() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    let out = room.join("PA_b", grant("bob"), NOW, &server());
    let [Response::Join(join)] = responses_to(&out, "PA_b")[..] else {
        panic!("{out:?}");
    };
    assert_eq!(join.other_participants.len(), 1);
    assert_eq!(join.other_participants[0].identity, "ada");
    let [Response::Update(update)] = responses_to(&out, "PA_a")[..] else {
        panic!("{out:?}");
    };
    assert_eq!(update.participants[0].identity, "bob");
}

#[test]
fn leaving_is_announced_to_the_others_with_a_newer_version() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    room.join("PA_b", grant("bob"), NOW, &server());
    let out = room.leave("PA_b", proto::DisconnectReason::ClientInitiated, NOW);
    assert!(responses_to(&out, "PA_b").is_empty());
    let [Response::Update(update)] = responses_to(&out, "PA_a")[..] else {
        panic!("{out:?}");
    };
    let bob = &update.participants[0];
    assert_eq!(
        bob.state,
        proto::participant_info::State::Disconnected as i32
    );
    assert_eq!(
        bob.disconnect_reason,
        proto::DisconnectReason::ClientInitiated as i32
    );
    assert!(bob.version > 1);
    assert_eq!(room.participant_sids().collect::<Vec<_>>(), ["PA_a"]);
}

#[test]
fn a_second_connection_with_the_same_identity_replaces_the_first() {
    let mut room = room();
    room.join("PA_old", grant("ada"), NOW, &server());
    let out = room.join("PA_new", grant("ada"), NOW, &server());
    let [Response::Leave(leave)] = responses_to(&out, "PA_old")[..] else {
        panic!("{out:?}");
    };
    assert_eq!(
        leave.reason,
        proto::DisconnectReason::DuplicateIdentity as i32
    );
    assert!(closed(&out, "PA_old"));
    assert_eq!(room.participant_sids().collect::<Vec<_>>(), ["PA_new"]);
}

#[test]
fn hidden_participants_are_never_announced() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    let mut recorder = grant("recorder");
    recorder.permission.hidden = true;
    let out = room.join("PA_h", recorder, NOW, &server());
    assert!(responses_to(&out, "PA_a").is_empty());
    let out = room.join("PA_c", grant("cy"), NOW, &server());
    let [Response::Join(join)] = responses_to(&out, "PA_c")[..] else {
        panic!("{out:?}");
    };
    assert!(
        join.other_participants
            .iter()
            .all(|p| p.identity != "recorder")
    );
    assert!(
        room.leave("PA_h", proto::DisconnectReason::ClientInitiated, NOW)
            .is_empty()
    );
}

#[test]
fn pings_are_answered_with_the_callers_timestamp() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    let out = room.handle("PA_a", Request::Ping(42), NOW);
    assert_eq!(responses_to(&out, "PA_a"), [&Response::Pong(42)]);
    let out = room.handle(
        "PA_a",
        Request::PingReq(proto::Ping {
            timestamp: 7,
            rtt: 0,
        }),
        NOW,
    );
    assert_eq!(
        responses_to(&out, "PA_a"),
        [&Response::PongResp(proto::Pong {
            last_ping_timestamp: 7,
            timestamp: NOW.0
        })]
    );
}

#[test]
fn metadata_updates_need_the_grant_and_reach_everyone() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    room.join("PA_b", grant("bob"), NOW, &server());
    let update = proto::UpdateParticipantMetadata {
        name: "Bobby".into(),
        request_id: 9,
        ..Default::default()
    };
    let out = room.handle("PA_b", Request::UpdateMetadata(update.clone()), NOW);
    let [Response::RequestResponse(denied)] = responses_to(&out, "PA_b")[..] else {
        panic!("{out:?}");
    };
    assert_eq!(
        denied.reason,
        proto::request_response::Reason::NotAllowed as i32
    );
    assert!(responses_to(&out, "PA_a").is_empty());

    let mut allowed = grant("cy");
    allowed.permission.can_update_metadata = true;
    room.join("PA_c", allowed, NOW, &server());
    let out = room.handle("PA_c", Request::UpdateMetadata(update), NOW);
    for sid in ["PA_a", "PA_b", "PA_c"] {
        assert!(
            responses_to(&out, sid).iter().any(|r| matches!(
                r,
                Response::Update(u) if u.participants[0].name == "Bobby"
            )),
            "{sid} did not see the rename"
        );
    }
}

#[test]
fn close_all_tells_everyone_why_and_closes() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    room.join("PA_b", grant("bob"), NOW, &server());
    let out = room.close_all(proto::DisconnectReason::ServerShutdown, NOW);
    for sid in ["PA_a", "PA_b"] {
        assert!(responses_to(&out, sid).iter().any(|r| matches!(
            r,
            Response::Leave(l) if l.reason == proto::DisconnectReason::ServerShutdown as i32
        )));
        assert!(closed(&out, sid));
    }
    assert!(room.is_empty());
}

#[test]
fn requests_from_strangers_are_ignored() {
    let mut room = room();
    assert!(room.handle("PA_nobody", Request::Ping(1), NOW).is_empty());
}

#[test]
fn a_room_nobody_joins_closes_after_its_empty_timeout() {
    let room = room();
    let created = NOW.0;
    assert!(!room.is_expired(UnixMillis(created + 299_999)));
    assert!(room.is_expired(UnixMillis(created + 300_000)));
}

#[test]
fn a_room_closes_after_its_departure_timeout_once_everyone_left() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    let much_later = UnixMillis(NOW.0 + 3_600_000);
    assert!(!room.is_expired(much_later), "occupied rooms never expire");
    room.leave("PA_a", proto::DisconnectReason::ClientInitiated, much_later);
    assert!(!room.is_expired(UnixMillis(much_later.0 + 19_999)));
    assert!(room.is_expired(UnixMillis(much_later.0 + 20_000)));
}

#[test]
fn api_rooms_keep_their_own_timeouts() {
    let request = proto::CreateRoomRequest {
        name: "board".into(),
        empty_timeout: 5,
        departure_timeout: 1,
        ..Default::default()
    };
    let mut room = Room::created_by_api("RM_b".into(), &request, NOW);
    assert!(room.is_expired(UnixMillis(NOW.0 + 5_000)));
    room.join("PA_a", grant("ada"), NOW, &server());
    room.leave("PA_a", proto::DisconnectReason::ClientInitiated, NOW);
    assert!(!room.is_expired(UnixMillis(NOW.0 + 999)));
    assert!(room.is_expired(UnixMillis(NOW.0 + 1_000)));
}

/// A waiting-room guest: hidden, and allowed nothing.
fn waiting_guest(identity: &str) -> JoinGrant {
    let mut guest = grant(identity);
    guest.permission = proto::ParticipantPermission {
        hidden: true,
        ..Default::default()
    };
    guest
}

#[test]
fn a_participant_in_the_lobby_sees_nobody_until_let_in() {
    let mut room = room();
    room.join("PA_a", grant("ada"), NOW, &server());
    let out = room.join("PA_g", waiting_guest("guest"), NOW, &server());
    let [Response::Join(join)] = responses_to(&out, "PA_g")[..] else {
        panic!("{out:?}");
    };
    assert!(join.other_participants.is_empty(), "{join:?}");
    assert!(responses_to(&out, "PA_a").is_empty(), "the guest is hidden");
    // Others coming and changing are not news to the lobby.
    let out = room.join("PA_b", grant("bob"), NOW, &server());
    assert!(responses_to(&out, "PA_g").is_empty(), "{out:?}");

    let admit = proto::UpdateParticipantRequest {
        room: "standup".into(),
        identity: "guest".into(),
        permission: Some(proto::ParticipantPermission {
            can_subscribe: true,
            can_publish: true,
            can_publish_data: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let change = room.update_participant(admit).expect("admitted");
    let to_guest = responses_to(&change.out, "PA_g");
    let everyone: Vec<&str> = to_guest
        .iter()
        .filter_map(|response| match response {
            Response::Update(update) => Some(update),
            _ => None,
        })
        .flat_map(|update| update.participants.iter().map(|p| p.identity.as_str()))
        .collect();
    assert!(
        everyone.contains(&"ada") && everyone.contains(&"bob"),
        "{to_guest:?}"
    );
    // Now visible, the guest is announced to the others.
    assert!(!responses_to(&change.out, "PA_a").is_empty());
}
