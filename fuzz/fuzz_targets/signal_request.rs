//! Arbitrary bytes as a signal frame (protobuf or JSON), parsed as the session does, then
//! handled by a room with two participants and by the media plane, as the hub would route it.
//! Nothing may panic, whatever the client sends.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use confab_sfu::auth::JoinGrant;
use confab_sfu::media::{Forwarder, PeerProfile};
use confab_sfu::room::{Room, ServerDescription, UnixMillis};
use confab_sfu::session::{Framing, parse_frame};
use libfuzzer_sys::fuzz_target;
use livekit_protocol as proto;

fn grant(identity: &str) -> JoinGrant {
    JoinGrant {
        api_key: "APIfuzz".into(),
        identity: identity.into(),
        name: identity.into(),
        room: "fuzz".into(),
        metadata: String::new(),
        attributes: Default::default(),
        permission: proto::ParticipantPermission {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true,
            can_update_metadata: true,
            ..Default::default()
        },
    }
}

fn profile(identity: &str) -> PeerProfile {
    PeerProfile {
        room: "fuzz".into(),
        identity: identity.into(),
        hidden: false,
        can_subscribe: true,
        can_publish_data: true,
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, frame)) = input.split_first() else {
        return;
    };
    let framing = if selector & 1 == 0 {
        Framing::Binary
    } else {
        Framing::Json
    };
    let Ok(request) = parse_frame(frame, framing) else {
        return;
    };
    let Some(message) = request.message else {
        return;
    };
    let now = UnixMillis(1_700_000_000_000);
    let server = ServerDescription {
        node_id: "ND_fuzz".into(),
    };
    let mut room = Room::new("RM_fuzz".into(), "fuzz".into(), now);
    room.join("PA_a", grant("ada"), now, &server);
    room.join("PA_b", grant("bob"), now, &server);

    let instant = Instant::now();
    let media_address: SocketAddr = ([127, 0, 0, 1], 7882).into();
    let mut media = Forwarder::new(vec![media_address]);
    media.add_peer(instant, "PA_a", profile("ada"));
    media.add_peer(instant, "PA_b", profile("bob"));

    let _ = media.handle_request(instant, "PA_a", message.clone());
    let _ = room.handle("PA_a", message, now);
    media.handle_timeout(instant);
    let _ = media.take_events();
    let _ = media.take_datagrams();
});
