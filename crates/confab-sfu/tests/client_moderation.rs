//! Confab's own client engine (`confab_rtc::Room`) moderated through the RoomService: a guest
//! who may do nothing is refused by the client before the server sees anything, learns it was
//! admitted from `PermissionsChanged`, can then publish, and ends with the removal's reason.

mod common;

use common::{DEADLINE, admin_token, start_sfu, token_with, twirp};
use confab_rtc::room::{
    DataOptions, DisconnectReason, Permissions, Room, RoomError, RoomEvent, RoomOptions,
    TrackOptions,
};
use livekit_api::access_token::VideoGrants;
use livekit_protocol as proto;
use tokio::sync::mpsc;

async fn next_where(
    events: &mut mpsc::Receiver<RoomEvent>,
    what: &str,
    wanted: impl Fn(&RoomEvent) -> bool,
) -> RoomEvent {
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.recv().await.expect("events end after Disconnected");
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

fn permissions(allowed: bool) -> proto::ParticipantPermission {
    proto::ParticipantPermission {
        can_subscribe: allowed,
        can_publish: allowed,
        can_publish_data: allowed,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_guest_is_admitted_then_removed_with_the_reason() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    let waiting = token_with(
        VideoGrants {
            room_join: true,
            room: "lobby".into(),
            can_publish: Some(false),
            can_subscribe: Some(false),
            can_publish_data: Some(false),
            ..Default::default()
        },
        "guest",
    );
    let (guest, mut events) = Room::connect(&url, &waiting, RoomOptions::default())
        .await
        .expect("a waiting guest still joins");
    assert_eq!(
        guest.local_participant().permissions,
        Permissions::default(),
        "nothing allowed yet"
    );
    let refused = guest.publish_track(TrackOptions::microphone()).await;
    assert!(
        matches!(refused, Err(RoomError::NotAllowed(_))),
        "{refused:?}"
    );
    let refused = guest
        .publish_data(b"hi".to_vec(), &DataOptions::default())
        .await;
    assert!(
        matches!(refused, Err(RoomError::NotAllowed(_))),
        "{refused:?}"
    );

    let admin = admin_token("lobby");
    let admit = proto::UpdateParticipantRequest {
        room: "lobby".into(),
        identity: "guest".into(),
        permission: Some(permissions(true)),
        ..Default::default()
    };
    let _: proto::ParticipantInfo = twirp(sfu.local_addr(), "UpdateParticipant", &admin, &admit)
        .await
        .expect("admitted");
    let admitted = next_where(&mut events, "the admission", |e| {
        matches!(e, RoomEvent::PermissionsChanged(_))
    })
    .await;
    assert!(matches!(
        admitted,
        RoomEvent::PermissionsChanged(Permissions {
            can_publish: true,
            can_subscribe: true,
            can_publish_data: true
        })
    ));
    guest
        .publish_track(TrackOptions::microphone())
        .await
        .expect("publishes once admitted");

    let remove = proto::RoomParticipantIdentity {
        room: "lobby".into(),
        identity: "guest".into(),
        ..Default::default()
    };
    let _: proto::RemoveParticipantResponse =
        twirp(sfu.local_addr(), "RemoveParticipant", &admin, &remove)
            .await
            .expect("removed");
    let ended = next_where(&mut events, "the removal", |e| {
        matches!(e, RoomEvent::Disconnected(_))
    })
    .await;
    assert!(
        matches!(
            ended,
            RoomEvent::Disconnected(DisconnectReason::Server(
                proto::DisconnectReason::ParticipantRemoved
            ))
        ),
        "{ended:?}"
    );
    let after = guest
        .publish_data(b"late".to_vec(), &DataOptions::default())
        .await;
    assert!(matches!(after, Err(RoomError::Closed)), "{after:?}");
}
