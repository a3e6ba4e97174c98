//! The live rooms and the connections of their participants: applies room state transitions and
//! delivers the resulting messages to each connection's outbox.
//!
//! Operations are short and never await, so one mutex guards everything; each connection has a
//! bounded outbox, and a participant that lets it fill up is disconnected instead of making the
//! server buffer without limit.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use tokio::sync::mpsc;

use crate::auth::JoinGrant;
use crate::ids;
use crate::room::{self, CloseReason, Delivery, Outbound, Room, ServerDescription, UnixMillis};

/// Messages a connection may have queued before it counts as too slow.
const OUTBOX_CAPACITY: usize = 512;

#[derive(Debug)]
pub struct Hub {
    server: ServerDescription,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<String, Room>,
    connections: HashMap<String, Connection>,
}

#[derive(Debug)]
struct Connection {
    room: String,
    outbox: mpsc::Sender<Delivery>,
}

/// A participant's side of the hub: its sid and the messages addressed to it.
#[derive(Debug)]
pub struct Membership {
    pub sid: String,
    pub outbox: mpsc::Receiver<Delivery>,
}

impl Hub {
    pub fn new(server: ServerDescription) -> Self {
        Self {
            server,
            state: Mutex::new(State::default()),
        }
    }

    /// Joins `grant.room` (created on first join). The JoinResponse is the first message in the
    /// returned outbox.
    pub fn join(&self, grant: JoinGrant) -> Membership {
        let sid = ids::participant_sid();
        let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
        let now = now();
        let mut state = self.lock();
        let room_name = grant.room.clone();
        state.connections.insert(
            sid.clone(),
            Connection {
                room: room_name.clone(),
                outbox: sender,
            },
        );
        let room = state
            .rooms
            .entry(room_name.clone())
            .or_insert_with(|| Room::new(ids::room_sid(), room_name, now));
        let out = if room.is_full() {
            tracing::info!(participant = %sid, room = room.name(), "room is full");
            room::refusal(&sid, proto::DisconnectReason::JoinFailure)
        } else {
            room.join(&sid, grant, now, &self.server)
        };
        deliver(&mut state, out);
        Membership {
            sid,
            outbox: receiver,
        }
    }

    /// A request from participant `sid`.
    pub fn handle(&self, sid: &str, request: proto::signal_request::Message) {
        self.with_room_of(sid, |room, now| room.handle(sid, request, now));
    }

    /// The participant's connection ended (closed, failed or timed out).
    pub fn disconnected(&self, sid: &str, reason: proto::DisconnectReason) {
        self.with_room_of(sid, |room, now| room.leave(sid, reason, now));
        self.lock().connections.remove(sid);
    }

    /// Removes a participant for misbehaving: it gets a leave and its connection is closed.
    pub fn eject(&self, sid: &str, reason: proto::DisconnectReason, close: CloseReason) {
        self.with_room_of(sid, |room, now| room.remove(sid, reason, close, now));
    }

    /// Every participant of every room leaves with `SERVER_SHUTDOWN`.
    pub fn shutdown(&self) {
        let now = now();
        let mut state = self.lock();
        let out: Vec<Outbound> = state
            .rooms
            .values_mut()
            .flat_map(|room| room.close_all(proto::DisconnectReason::ServerShutdown, now))
            .collect();
        deliver(&mut state, out);
        state.rooms.clear();
    }

    /// RoomService CreateRoom: creates the room, or returns it unchanged when it exists.
    pub fn create_room(&self, request: &proto::CreateRoomRequest) -> proto::Room {
        let now = now();
        let mut state = self.lock();
        state
            .rooms
            .entry(request.name.clone())
            .or_insert_with(|| Room::created_by_api(ids::room_sid(), request, now))
            .info()
    }

    /// RoomService ListRooms: all rooms, or those named.
    pub fn list_rooms(&self, names: &[String]) -> Vec<proto::Room> {
        let state = self.lock();
        let mut rooms: Vec<proto::Room> = state
            .rooms
            .values()
            .filter(|room| names.is_empty() || names.iter().any(|n| n == room.name()))
            .map(Room::info)
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// RoomService DeleteRoom: everyone leaves with `ROOM_DELETED`. False if there was no room.
    pub fn delete_room(&self, name: &str) -> bool {
        let now = now();
        let mut state = self.lock();
        let Some(mut room) = state.rooms.remove(name) else {
            return false;
        };
        let out = room.close_all(proto::DisconnectReason::RoomDeleted, now);
        deliver(&mut state, out);
        true
    }

    pub fn list_participants(&self, room: &str) -> Option<Vec<proto::ParticipantInfo>> {
        self.lock().rooms.get(room).map(Room::participants)
    }

    pub fn participant(&self, room: &str, identity: &str) -> Option<proto::ParticipantInfo> {
        self.lock().rooms.get(room)?.participant(identity)
    }

    /// RoomService RemoveParticipant: it leaves with `PARTICIPANT_REMOVED`. False if absent.
    pub fn remove_participant(&self, room_name: &str, identity: &str) -> bool {
        let now = now();
        let mut state = self.lock();
        let Some(room) = state.rooms.get_mut(room_name) else {
            return false;
        };
        let Some(sid) = room.sid_of(identity) else {
            return false;
        };
        let out = room.remove(
            &sid,
            proto::DisconnectReason::ParticipantRemoved,
            CloseReason::Normal,
            now,
        );
        deliver(&mut state, out);
        true
    }

    pub fn update_room_metadata(&self, room_name: &str, metadata: String) -> Option<proto::Room> {
        let mut state = self.lock();
        let room = state.rooms.get_mut(room_name)?;
        let out = room.set_metadata(metadata);
        let info = room.info();
        deliver(&mut state, out);
        Some(info)
    }

    pub fn update_participant(
        &self,
        request: proto::UpdateParticipantRequest,
    ) -> Option<proto::ParticipantInfo> {
        let mut state = self.lock();
        let room = state.rooms.get_mut(&request.room)?;
        let (info, out) = room.update_participant(request)?;
        deliver(&mut state, out);
        Some(info)
    }

    fn with_room_of(&self, sid: &str, apply: impl FnOnce(&mut Room, UnixMillis) -> Vec<Outbound>) {
        let now = now();
        let mut state = self.lock();
        let Some(room_name) = state.connections.get(sid).map(|c| c.room.clone()) else {
            return;
        };
        let Some(room) = state.rooms.get_mut(&room_name) else {
            return;
        };
        let out = apply(room, now);
        deliver(&mut state, out);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave rooms half-updated in a way that is worse
        // than refusing every later connection, so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues each message on its connection. A full outbox gets that participant removed (its
/// leave is best-effort); messages for connections already gone are dropped.
fn deliver(state: &mut State, out: Vec<Outbound>) {
    let mut pending = out;
    while !pending.is_empty() {
        let mut too_slow = Vec::new();
        for Outbound { to, delivery } in pending.drain(..) {
            let Some(connection) = state.connections.get(&to) else {
                continue;
            };
            let closes = matches!(delivery, Delivery::Close(_));
            match connection.outbox.try_send(delivery) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(participant = %to, "signal outbox full; disconnecting");
                    too_slow.push(to.clone());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
            if closes {
                state.connections.remove(&to);
            }
        }
        for sid in too_slow {
            let Some(connection) = state.connections.remove(&sid) else {
                continue;
            };
            // Make room for the close so the session task ends promptly.
            let _ = connection
                .outbox
                .try_send(Delivery::Close(CloseReason::TooSlow));
            if let Some(room) = state.rooms.get_mut(&connection.room) {
                pending.extend(room.leave(&sid, proto::DisconnectReason::ConnectionTimeout, now()));
            }
        }
    }
    // Rooms are dropped as soon as they empty; the configurable empty timeout arrives with the
    // RoomService.
    state.rooms.retain(|_, room| !room.is_disposable());
}

fn now() -> UnixMillis {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    UnixMillis(millis)
}
