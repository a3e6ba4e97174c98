//! The media plane with real peer connections over loopback (str0m on both sides): data
//! packet rules that no LiveKit SDK lets a client break, and hostile traffic on the media port.

mod common;

use common::rtc_peer::{RtcPeer, send_garbage};
use common::*;
use livekit_api::access_token::VideoGrants;
use livekit_protocol as proto;
use proto::data_packet::Value;
use proto::signal_response::Message as Response;

fn user_packet(payload: &str, sequence: u32, destinations: &[&str]) -> proto::DataPacket {
    proto::DataPacket {
        sequence,
        destination_identities: destinations.iter().map(|d| (*d).to_owned()).collect(),
        value: Some(Value::User(proto::UserPacket {
            payload: payload.as_bytes().to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn payload(packet: &proto::DataPacket) -> String {
    match &packet.value {
        Some(Value::User(user)) => String::from_utf8_lossy(&user.payload).into_owned(),
        other => panic!("not a user packet: {other:?}"),
    }
}

async fn peer(sfu: &confab_sfu::RunningSfu, room: &str, identity: &str) -> RtcPeer {
    RtcPeer::join(sfu, &join_token(room, identity)).await
}

#[tokio::test]
async fn the_server_stamps_the_real_sender_and_honours_destinations() {
    let sfu = start_sfu().await;
    let mut alice = peer(&sfu, "data", "alice").await;
    let mut bob = peer(&sfu, "data", "bob").await;
    let mut carol = peer(&sfu, "data", "carol").await;
    alice.open_data_channels().await;

    let mut forged = user_packet("for bob", 1, &["bob"]);
    forged.participant_identity = "mallory".into();
    forged.participant_sid = "PA_forged".into();
    alice.send_data("_reliable", &forged);
    alice.send_data("_reliable", &user_packet("for everyone", 2, &[]));
    alice
        .run_until("alice's data to be delivered", |p| p.delivered("_reliable"))
        .await;

    bob.run_until("bob's two packets", |p| p.received.len() == 2)
        .await;
    let alice_sid = alice.sid().to_owned();
    for packet in &bob.received {
        assert_eq!(packet.participant_identity, "alice");
        assert_eq!(packet.participant_sid, alice_sid);
    }
    assert_eq!(payload(&bob.received[0]), "for bob");
    assert_eq!(bob.received[0].sequence, 1, "the sender's sequence is kept");

    carol
        .run_until("carol's packet", |p| !p.received.is_empty())
        .await;
    // One sender's reliable packets stay in order: had carol got the first, it would be first.
    assert_eq!(payload(&carol.received[0]), "for everyone");
    assert!(alice.received.is_empty(), "nothing is echoed to the sender");
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn repeated_reliable_sequences_are_dropped() {
    let sfu = start_sfu().await;
    let mut alice = peer(&sfu, "dups", "alice").await;
    let mut bob = peer(&sfu, "dups", "bob").await;
    alice.open_data_channels().await;
    for (text, sequence) in [("one", 5), ("one again", 5), ("stale", 4), ("two", 6)] {
        alice.send_data("_reliable", &user_packet(text, sequence, &[]));
    }
    alice
        .run_until("delivery", |p| p.delivered("_reliable"))
        .await;
    bob.run_until("two packets", |p| p.received.len() >= 2)
        .await;
    let texts: Vec<String> = bob.received.iter().map(payload).collect();
    assert_eq!(texts, ["one", "two"]);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_guest_without_can_publish_data_is_not_heard_until_granted() {
    let sfu = start_sfu().await;
    let mut bob = peer(&sfu, "guests", "bob").await;
    let guest_grants = VideoGrants {
        room_join: true,
        room: "guests".into(),
        can_publish: Some(false),
        can_publish_data: Some(false),
        can_subscribe: Some(true),
        ..Default::default()
    };
    let mut guest = RtcPeer::join(&sfu, &token_with(guest_grants, "guest")).await;
    guest.open_data_channels().await;
    guest.send_data("_reliable", &user_packet("forbidden", 1, &[]));
    // Acknowledged by the server's SCTP stack means the server has processed it.
    guest
        .run_until("the forbidden packet to reach the server", |p| {
            p.delivered("_reliable")
        })
        .await;

    let admin = admin_token("guests");
    let _granted: proto::ParticipantInfo = twirp(
        sfu.local_addr(),
        "UpdateParticipant",
        &admin,
        &proto::UpdateParticipantRequest {
            room: "guests".into(),
            identity: "guest".into(),
            permission: Some(proto::ParticipantPermission {
                can_subscribe: true,
                can_publish_data: true,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .expect("UpdateParticipant");
    guest
        .run_until("the guest to learn of its new permission", |p| {
            p.signals.iter().any(|signal| {
                matches!(signal, Response::Update(update) if update.participants.iter().any(|info| {
                    info.identity == "guest"
                        && info.permission.as_ref().is_some_and(|p| p.can_publish_data)
                }))
            })
        })
        .await;
    guest.send_data("_reliable", &user_packet("allowed", 2, &[]));
    guest
        .run_until("the allowed packet to reach the server", |p| {
            p.delivered("_reliable")
        })
        .await;
    bob.run_until("the allowed packet", |p| !p.received.is_empty())
        .await;
    let texts: Vec<String> = bob.received.iter().map(payload).collect();
    assert_eq!(texts, ["allowed"]);
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn garbage_on_the_media_port_harms_nobody() {
    let sfu = start_sfu().await;
    let mut alice = peer(&sfu, "noise", "alice").await;
    let mut bob = peer(&sfu, "noise", "bob").await;
    alice.open_data_channels().await;

    let mut stun_header = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun_header.extend_from_slice(&[0u8; 12]);
    let dtls_record = [0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
    let rtp_header = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
    let random: Vec<u8> = (0..1200u32).map(|i| (i * 7919 % 251) as u8).collect();
    send_garbage(
        sfu.media_addr(),
        &[
            &[],
            &[0xff],
            &stun_header,
            &dtls_record,
            &rtp_header,
            &random,
        ],
    )
    .await;

    alice.send_data("_reliable", &user_packet("still here", 1, &[]));
    alice
        .run_until("delivery", |p| p.delivered("_reliable"))
        .await;
    bob.run_until("alice's packet", |p| !p.received.is_empty())
        .await;
    assert_eq!(payload(&bob.received[0]), "still here");
    sfu.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_participant_whose_signalling_drops_resumes_without_the_others_noticing() {
    let sfu = start_sfu().await;
    let alice_token = join_token("resume", "alice");
    let mut alice = RtcPeer::join(&sfu, &alice_token).await;
    let mut bob = peer(&sfu, "resume", "bob").await;
    alice.open_data_channels().await;

    let first = alice.lose_and_resume_signalling(&sfu, &alice_token).await;
    let Response::Reconnect(reconnect) = first else {
        panic!("a resume starts with `reconnect`, got {first:?}");
    };
    assert!(reconnect.server_info.is_some());
    // Then the current participants (herself included, same sid) and an ICE-restart offer,
    // which the peer answers while it keeps sending data.
    alice
        .run_until("the participant list after the resume", |p| {
            p.signals.iter().any(|signal| {
                matches!(signal, Response::Update(update)
                    if update.participants.iter().any(|info| info.identity == "alice")
                    && update.participants.iter().any(|info| info.identity == "bob"))
            })
        })
        .await;
    let alice_sid = alice.sid().to_owned();
    alice.send_data("_reliable", &user_packet("after the resume", 1, &[]));
    alice
        .run_until("delivery", |p| p.delivered("_reliable"))
        .await;
    bob.run_until("alice's packet", |p| !p.received.is_empty())
        .await;
    assert_eq!(payload(&bob.received[0]), "after the resume");
    assert_eq!(
        bob.received[0].participant_sid, alice_sid,
        "same participant"
    );
    let alice_left = bob.signals.iter().any(|signal| {
        matches!(signal, Response::Update(update) if update.participants.iter().any(|info| {
            info.identity == "alice"
                && info.state == proto::participant_info::State::Disconnected as i32
        }))
    });
    assert!(!alice_left, "bob must not see alice leave");
    sfu.shutdown().await.expect("shutdown");
}
