//! The conference API on the embedded host: [`RoomControl`] straight on the hub, in-process,
//! so "Host a meeting" needs nothing but this server.

use std::collections::HashMap;
use std::sync::Arc;

use confab_conference::{ControlError, RoomControl};
use livekit_protocol as proto;

use crate::hub::Hub;

/// How long an empty meeting room stays before it closes by itself.
const EMPTY_TIMEOUT_SECS: u32 = 300;

/// The hub's rooms, as the conference service drives them.
#[derive(Debug, Clone)]
pub struct HubRooms(pub Arc<Hub>);

impl HubRooms {
    fn missing(&self, room: &str) -> ControlError {
        if self.0.list_participants(room).is_some() {
            ControlError::ParticipantNotFound
        } else {
            ControlError::RoomNotFound
        }
    }
}

impl RoomControl for HubRooms {
    async fn create_room(&self, room: &str, metadata: &str) -> Result<(), ControlError> {
        self.0.create_room(&proto::CreateRoomRequest {
            name: room.to_owned(),
            metadata: metadata.to_owned(),
            empty_timeout: EMPTY_TIMEOUT_SECS,
            ..Default::default()
        });
        Ok(())
    }

    async fn update_room_metadata(&self, room: &str, metadata: &str) -> Result<(), ControlError> {
        self.0
            .update_room_metadata(room, metadata.to_owned())
            .map(drop)
            .ok_or(ControlError::RoomNotFound)
    }

    async fn update_participant(
        &self,
        room: &str,
        identity: &str,
        permission: Option<proto::ParticipantPermission>,
        attributes: HashMap<String, String>,
    ) -> Result<(), ControlError> {
        self.0
            .update_participant(proto::UpdateParticipantRequest {
                room: room.to_owned(),
                identity: identity.to_owned(),
                permission,
                attributes,
                ..Default::default()
            })
            .map(drop)
            .ok_or_else(|| self.missing(room))
    }

    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), ControlError> {
        if self.0.remove_participant(room, identity) {
            Ok(())
        } else {
            Err(self.missing(room))
        }
    }

    async fn send_data(
        &self,
        room: &str,
        topic: &str,
        payload: Vec<u8>,
        to: Vec<String>,
    ) -> Result<(), ControlError> {
        let sent = self.0.send_data(&proto::SendDataRequest {
            room: room.to_owned(),
            data: payload,
            kind: proto::data_packet::Kind::Reliable as i32,
            destination_identities: to,
            topic: Some(topic.to_owned()),
            ..Default::default()
        });
        if sent {
            Ok(())
        } else {
            Err(ControlError::RoomNotFound)
        }
    }

    async fn delete_room(&self, room: &str) -> Result<(), ControlError> {
        if self.0.delete_room(room) {
            Ok(())
        } else {
            Err(ControlError::RoomNotFound)
        }
    }

    async fn participants(&self, room: &str) -> Result<Vec<String>, ControlError> {
        self.0
            .list_participants(room)
            .map(|participants| participants.into_iter().map(|p| p.identity).collect())
            .ok_or(ControlError::RoomNotFound)
    }
}
