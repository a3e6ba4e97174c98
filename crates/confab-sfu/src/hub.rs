//! The live rooms and the connections of their participants: applies room state transitions and
//! delivers the resulting messages to each connection's outbox.
//!
//! It also owns the media plane ([`Forwarder`]): signalling requests about peer connections go
//! there, and what the media plane reports (media arrived, offers, answers) comes back through
//! the rooms, so a ParticipantUpdate announcing a track always precedes the offer carrying it.
//!
//! Operations are short and never await, so one mutex guards everything; each connection has a
//! bounded outbox, and a participant that lets it fill up is disconnected instead of making the
//! server buffer without limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use tokio::sync::{Notify, mpsc, watch};

use crate::auth::{Authenticator, JoinGrant};
use crate::data;
use crate::ids;
use crate::media::{Forwarder, MediaEvent, MediaSockets, PeerProfile};
use crate::room::{self, CloseReason, Delivery, Outbound, Room, ServerDescription, UnixMillis};

/// Messages a connection may have queued before it counts as too slow.
const OUTBOX_CAPACITY: usize = 512;
/// How long a participant whose signalling connection dropped while its media stayed connected
/// is kept for the client to resume (`reconnect=1`) by default, as `livekit-server` keeps it.
pub const RESUME_WINDOW: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct Hub {
    server: ServerDescription,
    /// Signs refresh tokens after permission changes.
    auth: Arc<Authenticator>,
    state: Mutex<State>,
    sockets: MediaSockets,
    /// How long a participant whose signalling dropped is kept for a resume.
    resume_window: Duration,
    /// Wakes the media timer task when a change may have moved the next deadline.
    media_changed: Notify,
    /// Signalling connections still being served, so a shutdown waits for their goodbyes.
    live_sessions: watch::Sender<usize>,
}

/// Counts a signalling connection as served until dropped.
#[derive(Debug)]
pub struct LiveSession(watch::Sender<usize>);

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.0.send_modify(|live| *live = live.saturating_sub(1));
    }
}

#[derive(Debug)]
struct State {
    rooms: HashMap<String, Room>,
    connections: HashMap<String, Connection>,
    media: Forwarder,
    /// Numbers signalling connections, so a connection a resume replaced cannot end the
    /// participant when it finally closes.
    next_epoch: u64,
    /// The deadline the media timer task sleeps until.
    timer_deadline: Option<Instant>,
}

#[derive(Debug)]
struct Connection {
    room: String,
    /// The API key that admitted the participant.
    api_key: String,
    /// None while the signalling connection is gone and the participant awaits a resume.
    outbox: Option<mpsc::Sender<Delivery>>,
    epoch: u64,
    detached_at: Option<Instant>,
}

/// When [`Hub::settle`] checks for participants that are gone (whose media peers it drops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerCheck {
    /// The operation may have changed who is in which room.
    Always,
    /// Only if the media plane produced signalling (which can disconnect a slow client).
    IfSignalled,
}

/// A participant's side of the hub: its sid and the messages addressed to it.
#[derive(Debug)]
pub struct Membership {
    pub sid: String,
    /// Identifies this signalling connection of the participant.
    pub epoch: u64,
    pub outbox: mpsc::Receiver<Delivery>,
}

impl Hub {
    pub fn new(
        server: ServerDescription,
        auth: Arc<Authenticator>,
        sockets: MediaSockets,
        resume_window: Duration,
    ) -> Self {
        Self {
            resume_window,
            server,
            auth,
            state: Mutex::new(State {
                rooms: HashMap::new(),
                connections: HashMap::new(),
                media: Forwarder::new(vec![sockets.advertised()]),
                next_epoch: 1,
                timer_deadline: None,
            }),
            sockets,
            media_changed: Notify::new(),
            live_sessions: watch::Sender::new(0),
        }
    }

    /// A signalling connection is being served until the returned guard drops.
    pub fn session_started(&self) -> LiveSession {
        self.live_sessions.send_modify(|live| *live += 1);
        LiveSession(self.live_sessions.clone())
    }

    /// Waits until every signalling connection has ended (each has written what it was
    /// sent, its goodbye included), or `limit` passed.
    pub async fn sessions_ended(&self, limit: Duration) {
        let mut live = self.live_sessions.subscribe();
        if tokio::time::timeout(limit, live.wait_for(|live| *live == 0))
            .await
            .is_err()
        {
            tracing::info!(limit = ?limit, "some connections did not close in time");
        }
    }

    pub fn media_sockets(&self) -> &MediaSockets {
        &self.sockets
    }

    /// A datagram arrived on the media socket.
    pub fn media_datagram(&self, source: SocketAddr, contents: &[u8]) {
        let mut state = self.lock();
        let destination = self.sockets.advertised();
        if !state
            .media
            .handle_datagram(Instant::now(), source, destination, contents)
        {
            tracing::trace!(%source, "datagram for no peer connection dropped");
        }
        self.settle_media(&mut state);
        // Most datagrams leave the next deadline where it was: wake the timer task only when
        // they moved it earlier, instead of after every datagram.
        let moved_earlier = match (state.media.take_deadline_hint(), state.timer_deadline) {
            (Some(hint), Some(armed)) => hint < armed,
            (hint, _) => hint.is_some(),
        };
        if moved_earlier {
            self.media_changed.notify_one();
        }
    }

    /// The media plane's timers are due. Returns the next deadline, which the caller sleeps
    /// until (no second lock to ask for it).
    pub fn media_timeout(&self) -> Option<Instant> {
        let mut state = self.lock();
        state.media.handle_timeout(Instant::now());
        self.settle_media(&mut state);
        state.arm_timer()
    }

    /// When the media plane next needs [`Hub::media_timeout`]; the caller sleeps until then.
    pub fn media_deadline(&self) -> Option<Instant> {
        self.lock().arm_timer()
    }

    /// Resolves after a change that may have moved [`Hub::media_deadline`] earlier.
    pub async fn media_changed(&self) {
        self.media_changed.notified().await;
    }

    /// Joins `grant.room` (created on first join), subscribed to every track published there
    /// when `auto_subscribe`, else only to those asked for. The JoinResponse is the first
    /// message in the returned outbox.
    pub fn join(&self, grant: JoinGrant, auto_subscribe: bool) -> Membership {
        let sid = ids::participant_sid();
        let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
        let now = now();
        let mut state = self.lock();
        let room_name = grant.room.clone();
        let epoch = state.take_epoch();
        state.connections.insert(
            sid.clone(),
            Connection {
                room: room_name.clone(),
                api_key: grant.api_key.clone(),
                outbox: Some(sender),
                epoch,
                detached_at: None,
            },
        );
        let room = state
            .rooms
            .entry(room_name.clone())
            .or_insert_with(|| Room::new(ids::room_sid(), room_name, now));
        let profile = PeerProfile::new(&grant.room, &grant.identity, &grant.permission);
        let out = if room.is_full() {
            tracing::info!(participant = %sid, room = room.name(), "room is full");
            room::refusal(&sid, proto::DisconnectReason::JoinFailure)
        } else {
            room.join(&sid, grant, now, &self.server)
        };
        let joined = room.contains(&sid);
        deliver(&mut state, out);
        if joined {
            state
                .media
                .add_peer(Instant::now(), &sid, profile, auto_subscribe);
        }
        self.settle(&mut state, Vec::new());
        Membership {
            sid,
            epoch,
            outbox: receiver,
        }
    }

    /// A client resumes (`reconnect=1`) after losing its signalling connection: if the
    /// participant with the token's identity is still in the room, the new connection takes
    /// over, gets `reconnect`, the current participants and room, and a subscriber offer that
    /// restarts ICE. `None`: nothing to resume (the client must rejoin).
    pub fn resume(&self, grant: &JoinGrant) -> Option<Membership> {
        let mut state = self.lock();
        let room = state.rooms.get(&grant.room)?;
        let sid = room.sid_of(&grant.identity)?;
        let last_sequence = state.media.last_reliable_sequence(&sid);
        let out = room.resumed(&sid, &self.server, last_sequence);
        let epoch = state.take_epoch();
        let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
        let connection = state.connections.get_mut(&sid)?;
        // Dropping the old sender ends the old session quietly if it is still around.
        connection.outbox = Some(sender);
        connection.epoch = epoch;
        connection.detached_at = None;
        tracing::info!(participant = %sid, "resumed");
        // The ICE-restart offer is queued behind `out`: settling delivers `out` first.
        state.media.restart_ice(Instant::now(), &sid);
        self.settle(&mut state, out);
        Some(Membership {
            sid,
            epoch,
            outbox: receiver,
        })
    }

    /// The signalling connection `epoch` of `sid` ended without a leave. With media still
    /// connected the participant waits the resume window for the client to resume; otherwise
    /// it leaves now with `reason`.
    pub fn signal_lost(&self, sid: &str, epoch: u64, reason: proto::DisconnectReason) {
        let mut state = self.lock();
        let State {
            rooms,
            connections,
            media,
            ..
        } = &mut *state;
        let Some(connection) = connections.get_mut(sid) else {
            return;
        };
        if connection.epoch != epoch {
            return;
        }
        let in_room = rooms
            .get(&connection.room)
            .is_some_and(|room| room.contains(sid));
        if in_room && media.is_connected(sid) {
            tracing::info!(participant = %sid, "signalling lost; kept for a resume");
            connection.outbox = None;
            connection.detached_at = Some(Instant::now());
            return;
        }
        self.leave_now(&mut state, sid, reason);
    }

    /// Participants whose signalling connection did not come back within the resume window
    /// leave; rooms past their empty or departure timeout close.
    pub fn sweep(&self) {
        let mut state = self.lock();
        let instant = Instant::now();
        let expired: Vec<String> = state
            .connections
            .iter()
            .filter(|(_, c)| {
                c.detached_at
                    .is_some_and(|at| instant - at >= self.resume_window)
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in expired {
            tracing::info!(participant = %sid, "no resume within the window; leaving");
            self.leave_now(&mut state, &sid, proto::DisconnectReason::SignalClose);
        }
        let wall = now();
        state.rooms.retain(|name, room| {
            let expired = room.is_expired(wall);
            if expired {
                tracing::info!(room = %name, "room closed after its timeout");
            }
            !expired
        });
    }

    fn leave_now(&self, state: &mut State, sid: &str, reason: proto::DisconnectReason) {
        let wall = now();
        let out = state
            .connections
            .remove(sid)
            .and_then(|c| state.rooms.get_mut(&c.room))
            .map(|room| room.leave(sid, reason, wall))
            .unwrap_or_default();
        self.settle(state, out);
    }

    /// A request from participant `sid`: peer-connection matters go to the media plane, the
    /// rest to its room.
    pub fn handle(&self, sid: &str, request: proto::signal_request::Message) {
        use proto::signal_request::Message as Request;
        match request {
            Request::Offer(offer) => {
                let mut state = self.lock();
                let State {
                    rooms,
                    connections,
                    media,
                    ..
                } = &mut *state;
                let Some(room) = connections.get(sid).and_then(|c| rooms.get(&c.room)) else {
                    return;
                };
                let preferred = room.codec_preferences(sid);
                if let Err(error) =
                    media.accept_publisher_offer(Instant::now(), sid, &offer, &preferred)
                {
                    tracing::warn!(participant = %sid, %error, "publisher offer refused");
                }
                self.settle(&mut state, Vec::new());
            }
            Request::Answer(_)
            | Request::Trickle(_)
            | Request::TrackSetting(_)
            | Request::Subscription(_) => {
                let mut state = self.lock();
                if !state.connections.contains_key(sid) {
                    return;
                }
                if let Err(error) = state.media.handle_request(Instant::now(), sid, request) {
                    tracing::warn!(participant = %sid, %error, "negotiation failed");
                }
                self.settle(&mut state, Vec::new());
            }
            other => self.with_room_of(sid, |room, now| room.handle(sid, other, now)),
        }
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
        self.settle(&mut state, out);
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
        self.settle(&mut state, out);
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
        self.settle(&mut state, out);
        true
    }

    pub fn update_room_metadata(&self, room_name: &str, metadata: String) -> Option<proto::Room> {
        let mut state = self.lock();
        let room = state.rooms.get_mut(room_name)?;
        let out = room.set_metadata(metadata);
        let info = room.info();
        self.settle(&mut state, out);
        Some(info)
    }

    pub fn update_participant(
        &self,
        request: proto::UpdateParticipantRequest,
    ) -> Option<proto::ParticipantInfo> {
        let mut state = self.lock();
        let permission_changed = request.permission.is_some();
        let room = state.rooms.get_mut(&request.room)?;
        let change = room.update_participant(request)?;
        let profile = profile_of(room.name(), &change.info);
        let mut out = change.out;
        if permission_changed {
            out.extend(self.refresh_token(&state, &change.info));
        }
        let now = Instant::now();
        state.media.update_peer(now, &change.info.sid, profile);
        for track_sid in &change.unpublished {
            state.media.unpublish_track(now, track_sid);
        }
        let info = change.info;
        self.settle(&mut state, out);
        Some(info)
    }

    /// A `refresh_token` carrying the participant's current permissions, for its reconnects.
    fn refresh_token(&self, state: &State, info: &proto::ParticipantInfo) -> Option<Outbound> {
        let connection = state.connections.get(&info.sid)?;
        match self
            .auth
            .refresh_token(&connection.api_key, &connection.room, info)
        {
            Ok(token) => Some(Outbound::signal(
                &info.sid,
                proto::signal_response::Message::RefreshToken(token),
            )),
            Err(error) => {
                tracing::warn!(participant = %info.sid, %error, "no refresh token");
                None
            }
        }
    }

    /// RoomService MutePublishedTrack: the track's state changes for everyone and its
    /// publisher is told to mute. None if there is no such track.
    pub fn mute_published_track(
        &self,
        request: &proto::MuteRoomTrackRequest,
    ) -> Option<proto::TrackInfo> {
        let mut state = self.lock();
        let room = state.rooms.get_mut(&request.room)?;
        let sid = room.sid_of(&request.identity)?;
        let mut out = room.set_track_muted(&sid, &request.track_sid, request.muted);
        let track = room
            .participant_by_sid(&sid)?
            .tracks
            .iter()
            .find(|t| t.sid == request.track_sid)?
            .clone();
        out.push(Outbound::signal(
            &sid,
            proto::signal_response::Message::Mute(proto::MuteTrackRequest {
                sid: request.track_sid.clone(),
                muted: request.muted,
            }),
        ));
        self.settle(&mut state, out);
        Some(track)
    }

    /// RoomService UpdateSubscriptions: subscribes or unsubscribes a participant on its
    /// behalf. False if there is no such participant.
    pub fn update_subscriptions(&self, request: &proto::UpdateSubscriptionsRequest) -> bool {
        let mut state = self.lock();
        let Some(sid) = state
            .rooms
            .get(&request.room)
            .and_then(|room| room.sid_of(&request.identity))
        else {
            return false;
        };
        let update = proto::UpdateSubscription {
            track_sids: request.track_sids.clone(),
            subscribe: request.subscribe,
            participant_tracks: request.participant_tracks.clone(),
        };
        let subscription = proto::signal_request::Message::Subscription(update);
        if let Err(error) = state
            .media
            .handle_request(Instant::now(), &sid, subscription)
        {
            tracing::warn!(participant = %sid, %error, "subscription update failed");
        }
        self.settle(&mut state, Vec::new());
        true
    }

    /// RoomService SendData: a packet from the server to the room (or the named identities).
    /// False if there is no such room.
    pub fn send_data(&self, request: &proto::SendDataRequest) -> bool {
        let mut state = self.lock();
        if !state.rooms.contains_key(&request.room) {
            return false;
        }
        let routed = data::from_server(request);
        state
            .media
            .send_server_data(Instant::now(), &request.room, &routed);
        self.settle(&mut state, Vec::new());
        true
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
        self.settle(&mut state, out);
    }

    /// Delivers `out`, then everything the media plane produced as a consequence: datagrams
    /// go to the socket, signals to their connections, and media that arrived is bound to its
    /// announced track before subscribers get offers for it.
    fn settle(&self, state: &mut State, out: Vec<Outbound>) {
        self.settle_with(state, out, PeerCheck::Always);
        // Signalling can add connections and change any deadline: the timer task re-reads.
        self.media_changed.notify_one();
    }

    /// [`Hub::settle`] for the media hot path (datagrams, timers), which changes no membership
    /// unless it produced signalling; skipping the check saves a pass over every peer.
    fn settle_media(&self, state: &mut State) {
        self.settle_with(state, Vec::new(), PeerCheck::IfSignalled);
    }

    fn settle_with(&self, state: &mut State, out: Vec<Outbound>, check: PeerCheck) {
        let mut out = out;
        let mut check_membership = check == PeerCheck::Always;
        loop {
            check_membership |= !out.is_empty();
            deliver(state, std::mem::take(&mut out));
            let now = Instant::now();
            let State {
                rooms,
                connections,
                media,
                ..
            } = &mut *state;
            if std::mem::take(&mut check_membership) {
                media.retain_peers(now, |sid| {
                    connections
                        .get(sid)
                        .and_then(|c| rooms.get(&c.room))
                        .is_some_and(|room| room.contains(sid))
                });
            }
            for datagram in media.take_datagrams() {
                self.sockets.send(&datagram);
            }
            let events = media.take_events();
            if events.is_empty() {
                break;
            }
            for event in events {
                match event {
                    MediaEvent::Signal { to, message } => out.push(Outbound::signal(&to, *message)),
                    MediaEvent::MediaArrived {
                        participant,
                        mid,
                        cid,
                        kind,
                    } => {
                        let Some(room) = connections
                            .get(&participant)
                            .and_then(|c| rooms.get_mut(&c.room))
                        else {
                            continue;
                        };
                        match room.bind_track(&participant, &cid, kind, &mid) {
                            Some((publication, updates)) => {
                                out.extend(updates);
                                media.publish_track(now, &participant, &mid, &publication.track);
                            }
                            None => tracing::info!(
                                participant = %participant, %cid, "media without an announced track ignored"
                            ),
                        }
                    }
                    MediaEvent::MediaEnded {
                        participant,
                        track_sid,
                    } => {
                        let updates = connections
                            .get(&participant)
                            .and_then(|c| rooms.get_mut(&c.room))
                            .and_then(|room| room.unpublish_track(&participant, &track_sid));
                        if let Some(updates) = updates {
                            tracing::info!(participant = %participant, track = %track_sid, "track unpublished");
                            out.extend(updates);
                        }
                        media.unpublish_track(now, &track_sid);
                    }
                }
            }
        }
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
            let Some(outbox) = connection.outbox.as_ref() else {
                // Waiting for a resume: the resumed connection gets the current state anyway.
                if closes {
                    state.connections.remove(&to);
                }
                continue;
            };
            match outbox.try_send(delivery) {
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
            if let Some(outbox) = &connection.outbox {
                let _ = outbox.try_send(Delivery::Close(CloseReason::TooSlow));
            }
            if let Some(room) = state.rooms.get_mut(&connection.room) {
                pending.extend(room.leave(&sid, proto::DisconnectReason::ConnectionTimeout, now()));
            }
        }
    }
}

/// What the media plane needs to know about a participant.
fn profile_of(room: &str, info: &proto::ParticipantInfo) -> PeerProfile {
    let permission = info.permission.clone().unwrap_or_default();
    PeerProfile::new(room, &info.identity, &permission)
}

impl State {
    /// The media plane's next deadline, recorded as the one the timer task sleeps until.
    fn arm_timer(&mut self) -> Option<Instant> {
        self.media.take_deadline_hint();
        self.timer_deadline = self.media.next_timeout();
        self.timer_deadline
    }

    fn take_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }
}

fn now() -> UnixMillis {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    UnixMillis(millis)
}
