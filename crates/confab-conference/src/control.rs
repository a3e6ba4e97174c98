//! What the conference service needs from the room's server: LiveKit's RoomService calls,
//! implemented by the embedded SFU in-process and by [`crate::twirp::TwirpRooms`] for a
//! LiveKit deployment.

use std::collections::HashMap;
use std::future::Future;

use livekit_protocol as proto;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no such room")]
    RoomNotFound,
    #[error("no such participant")]
    ParticipantNotFound,
    #[error("the room server refused: {0}")]
    Refused(String),
    #[error("the room server cannot be reached: {0}")]
    Unreachable(String),
}

/// The RoomService calls a meeting is run with.
pub trait RoomControl: Send + Sync + 'static {
    /// Creates the room with `metadata` (or leaves an existing one as it is).
    fn create_room(
        &self,
        room: &str,
        metadata: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Replaces the room's metadata; everyone in it sees the change.
    fn update_room_metadata(
        &self,
        room: &str,
        metadata: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Changes a participant's permissions and/or attributes (others are left as they are).
    fn update_participant(
        &self,
        room: &str,
        identity: &str,
        permission: Option<proto::ParticipantPermission>,
        attributes: HashMap<String, String>,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    fn remove_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// A reliable data packet from the server to the named identities only.
    fn send_data(
        &self,
        room: &str,
        topic: &str,
        payload: Vec<u8>,
        to: Vec<String>,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Everyone leaves with `ROOM_DELETED`.
    fn delete_room(&self, room: &str) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Identities in the room now (hidden ones included); `RoomNotFound` once it is gone.
    fn participants(
        &self,
        room: &str,
    ) -> impl Future<Output = Result<Vec<String>, ControlError>> + Send;
}
