//! One room's participants and what each of them must be told — a sans-IO state machine.
//!
//! Every operation takes the current time as an argument and returns the messages to deliver
//! ([`Outbound`]); sockets, tasks and clocks live in `hub` and `http`. This keeps the signalling
//! rules testable without a network.

use std::collections::{BTreeMap, HashMap};

use livekit_protocol as proto;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;

use crate::auth::JoinGrant;
use crate::ids;
use crate::media::transport::PUBLISH_CODECS;
use publication::PendingTrack;

mod publication;

/// The signal protocol we speak (what `livekit-server` 1.9 speaks; 18 would promise negotiated
/// fixed-id data channels).
pub const PROTOCOL_VERSION: i32 = 17;
/// Reported as the server version. SDKs gate features on it (RPC needs >= 1.8.0, and the Rust
/// SDK panics on a non-semver string), so we report the LiveKit release whose protocol we match.
pub const COMPATIBLE_SERVER_VERSION: &str = "1.9.0";
/// Seconds between client pings, and without any message before a client gives up.
pub const PING_INTERVAL_SECS: i32 = 5;
pub const PING_TIMEOUT_SECS: i32 = 15;
/// How long a room nobody joined stays open (LiveKit's default).
pub const DEFAULT_EMPTY_TIMEOUT_SECS: u32 = 300;
/// How long a room stays open after its last participant left (LiveKit's default).
pub const DEFAULT_DEPARTURE_TIMEOUT_SECS: u32 = 20;

/// Wall-clock time, supplied by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    fn seconds(self) -> i64 {
        self.0 / 1_000
    }
}

/// What to do with one participant's connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Signal(Box<proto::SignalResponse>),
    /// Close the connection after the messages before it (the participant has been removed).
    Close(CloseReason),
}

/// Why a connection is closed, for the WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Normal,
    /// The client sent something that is not a signal message (WebSocket code 1007).
    MalformedMessage,
    /// The client sent a message over the size limit (WebSocket code 1009).
    TooBig,
    /// The client did not keep up with its messages (WebSocket code 1008).
    TooSlow,
    /// Nothing arrived from the client for too long (WebSocket code 1001).
    Silent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: String,
    pub delivery: Delivery,
}

impl Outbound {
    pub fn signal(to: &str, message: Response) -> Self {
        Self {
            to: to.to_owned(),
            delivery: Delivery::Signal(Box::new(proto::SignalResponse {
                message: Some(message),
            })),
        }
    }

    fn close(to: &str, reason: CloseReason) -> Self {
        Self {
            to: to.to_owned(),
            delivery: Delivery::Close(reason),
        }
    }
}

/// The leave message a server sends. `can_reconnect` mirrors `action` for clients older than
/// protocol 13, which read only that flag.
pub fn leave(reason: proto::DisconnectReason, action: proto::leave_request::Action) -> Response {
    Response::Leave(proto::LeaveRequest {
        reason: reason as i32,
        action: action as i32,
        can_reconnect: action != proto::leave_request::Action::Disconnect,
        ..Default::default()
    })
}

/// Tells a connection why it must go, then closes it.
fn goodbye(sid: &str, reason: proto::DisconnectReason, close: CloseReason) -> Vec<Outbound> {
    vec![
        Outbound::signal(sid, leave(reason, proto::leave_request::Action::Disconnect)),
        Outbound::close(sid, close),
    ]
}

/// A connection that may not join (e.g. the room is full): a leave with the reason, then close.
pub fn refusal(sid: &str, reason: proto::DisconnectReason) -> Vec<Outbound> {
    goodbye(sid, reason, CloseReason::Normal)
}

/// How this server describes itself in JoinResponse.
#[derive(Debug, Clone)]
pub struct ServerDescription {
    pub node_id: String,
}

impl ServerDescription {
    fn info(&self) -> proto::ServerInfo {
        proto::ServerInfo {
            edition: proto::server_info::Edition::Standard as i32,
            version: COMPATIBLE_SERVER_VERSION.to_owned(),
            protocol: PROTOCOL_VERSION,
            node_id: self.node_id.clone(),
            debug_info: format!("confab {}", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        }
    }
}

#[derive(Debug)]
pub struct Room {
    info: proto::Room,
    /// When the last participant left (None while occupied or never joined).
    emptied_at: Option<UnixMillis>,
    /// By participant sid, in join order of sids (BTreeMap keeps output deterministic).
    participants: BTreeMap<String, proto::ParticipantInfo>,
    /// Announced tracks whose media has not arrived, by participant sid.
    pending_tracks: HashMap<String, Vec<PendingTrack>>,
}

/// The result of an administrator's change to a participant.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantChange {
    pub info: proto::ParticipantInfo,
    /// Tracks unpublished because the new permissions no longer allow their source.
    pub unpublished: Vec<String>,
    pub out: Vec<Outbound>,
}

/// A track that became published, for the media layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub participant: String,
    pub track: proto::TrackInfo,
}

impl Room {
    pub fn new(sid: String, name: String, now: UnixMillis) -> Self {
        Self {
            info: proto::Room {
                sid,
                name,
                creation_time: now.seconds(),
                creation_time_ms: now.0,
                empty_timeout: DEFAULT_EMPTY_TIMEOUT_SECS,
                departure_timeout: DEFAULT_DEPARTURE_TIMEOUT_SECS,
                ..Default::default()
            },
            emptied_at: None,
            participants: BTreeMap::new(),
            pending_tracks: HashMap::new(),
        }
    }

    /// A room created through the RoomService with its settings.
    pub fn created_by_api(
        sid: String,
        request: &proto::CreateRoomRequest,
        now: UnixMillis,
    ) -> Self {
        let mut room = Self::new(sid, request.name.clone(), now);
        room.info.metadata = request.metadata.clone();
        room.info.max_participants = request.max_participants;
        if request.empty_timeout > 0 {
            room.info.empty_timeout = request.empty_timeout;
        }
        if request.departure_timeout > 0 {
            room.info.departure_timeout = request.departure_timeout;
        }
        room
    }

    /// Whether the room should close: nobody joined within its empty timeout, or everyone
    /// left more than its departure timeout ago (so a participant who drops and rejoins at
    /// once finds the same room).
    pub fn is_expired(&self, now: UnixMillis) -> bool {
        if !self.participants.is_empty() {
            return false;
        }
        let (since, timeout_secs) = match self.emptied_at {
            Some(at) => (at, self.info.departure_timeout),
            None => (
                UnixMillis(self.info.creation_time_ms),
                self.info.empty_timeout,
            ),
        };
        now.0.saturating_sub(since.0) >= i64::from(timeout_secs) * 1_000
    }

    /// The room as the RoomService reports it.
    pub fn info(&self) -> proto::Room {
        self.info.clone()
    }

    pub fn participants(&self) -> Vec<proto::ParticipantInfo> {
        self.participants.values().cloned().collect()
    }

    pub fn participant(&self, identity: &str) -> Option<proto::ParticipantInfo> {
        self.participants
            .values()
            .find(|info| info.identity == identity)
            .cloned()
    }

    pub fn is_full(&self) -> bool {
        self.info.max_participants > 0 && self.visible_count() >= self.info.max_participants
    }

    /// New room metadata, announced to everyone with a RoomUpdate.
    pub fn set_metadata(&mut self, metadata: String) -> Vec<Outbound> {
        self.info.metadata = metadata;
        let room = self.info.clone();
        self.participants
            .keys()
            .map(|sid| {
                Outbound::signal(
                    sid,
                    Response::RoomUpdate(proto::RoomUpdate {
                        room: Some(room.clone()),
                    }),
                )
            })
            .collect()
    }

    /// An administrator changes a participant's name, metadata, attributes or permissions.
    /// Everyone (the participant included, which is how it learns of new permissions) gets the
    /// new state; tracks whose source is no longer allowed are unpublished first.
    pub fn update_participant(
        &mut self,
        request: proto::UpdateParticipantRequest,
    ) -> Option<ParticipantChange> {
        let sid = self.sid_of_identity(&request.identity)?;
        let info = self.participants.get_mut(&sid)?;
        apply_profile(info, request.name, request.metadata, request.attributes);
        let permission_changed = request.permission.is_some();
        let was_in_lobby = is_in_lobby(info);
        if let Some(permission) = request.permission {
            info.permission = Some(permission);
        }
        let left_lobby = was_in_lobby && !is_in_lobby(info);
        let unpublished = if permission_changed {
            self.drop_disallowed_tracks(&sid)
        } else {
            Vec::new()
        };
        let info = self.participants.get_mut(&sid)?;
        info.version += 1;
        let info = info.clone();
        let mut out: Vec<Outbound> = unpublished
            .iter()
            .map(|track_sid| {
                Outbound::signal(
                    &sid,
                    Response::TrackUnpublished(proto::TrackUnpublishedResponse {
                        track_sid: track_sid.clone(),
                    }),
                )
            })
            .collect();
        if is_hidden(&info) {
            out.push(Outbound::signal(
                &sid,
                Response::Update(proto::ParticipantUpdate {
                    participants: vec![info.clone()],
                }),
            ));
        } else {
            out.extend(self.broadcast_update(&info, None));
        }
        let now_visible = if left_lobby {
            self.visible_to(&sid)
        } else {
            Vec::new()
        };
        if !now_visible.is_empty() {
            // Admitted from a waiting room: now it may see who is here.
            out.push(Outbound::signal(
                &sid,
                Response::Update(proto::ParticipantUpdate {
                    participants: now_visible,
                }),
            ));
        }
        Some(ParticipantChange {
            info,
            unpublished,
            out,
        })
    }

    /// The sid of the participant with `identity`, if present.
    pub fn sid_of(&self, identity: &str) -> Option<String> {
        self.sid_of_identity(identity)
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    pub fn contains(&self, sid: &str) -> bool {
        self.participants.contains_key(sid)
    }

    pub fn participant_by_sid(&self, sid: &str) -> Option<&proto::ParticipantInfo> {
        self.participants.get(sid)
    }

    pub fn participant_sids(&self) -> impl Iterator<Item = &str> {
        self.participants.keys().map(String::as_str)
    }

    /// What a participant whose client resumed receives: `reconnect` (with the last reliable
    /// data sequence the server got from it, so the client resends only what was lost), every
    /// visible participant including itself, and the room.
    pub fn resumed(
        &self,
        sid: &str,
        server: &ServerDescription,
        last_message_seq: u32,
    ) -> Vec<Outbound> {
        let mut participants = self.visible_to(sid);
        participants.extend(self.participants.get(sid).cloned());
        participants.sort_by_key(|info| info.sid != sid);
        vec![
            Outbound::signal(
                sid,
                Response::Reconnect(proto::ReconnectResponse {
                    server_info: Some(server.info()),
                    last_message_seq,
                    ..Default::default()
                }),
            ),
            Outbound::signal(
                sid,
                Response::Update(proto::ParticipantUpdate { participants }),
            ),
            Outbound::signal(
                sid,
                Response::RoomUpdate(proto::RoomUpdate {
                    room: Some(self.info.clone()),
                }),
            ),
        ]
    }

    /// Adds a participant. A participant already present with the same identity is removed
    /// first (`DUPLICATE_IDENTITY`), as `livekit-server` does. The JoinResponse is the first
    /// message for the newcomer; everyone else learns about it through a ParticipantUpdate.
    pub fn join(
        &mut self,
        sid: &str,
        grant: JoinGrant,
        now: UnixMillis,
        server: &ServerDescription,
    ) -> Vec<Outbound> {
        let mut out = Vec::new();
        if let Some(existing) = self.sid_of_identity(&grant.identity) {
            out.extend(self.remove(
                &existing,
                proto::DisconnectReason::DuplicateIdentity,
                CloseReason::Normal,
                now,
            ));
        }
        let info = proto::ParticipantInfo {
            sid: sid.to_owned(),
            identity: grant.identity,
            name: grant.name,
            metadata: grant.metadata,
            attributes: grant.attributes,
            state: proto::participant_info::State::Joined as i32,
            joined_at: now.seconds(),
            joined_at_ms: now.0,
            version: 1,
            permission: Some(grant.permission),
            kind: proto::participant_info::Kind::Standard as i32,
            ..Default::default()
        };
        self.participants.insert(sid.to_owned(), info.clone());
        let others = self.visible_to(sid);
        self.info.num_participants = self.visible_count();

        let can_subscribe = info.permission.as_ref().is_some_and(|p| p.can_subscribe);
        out.push(Outbound::signal(
            sid,
            Response::Join(proto::JoinResponse {
                room: Some(self.info.clone()),
                participant: Some(info.clone()),
                other_participants: others,
                server_version: COMPATIBLE_SERVER_VERSION.to_owned(),
                server_info: Some(server.info()),
                ping_interval: PING_INTERVAL_SECS,
                ping_timeout: PING_TIMEOUT_SECS,
                subscriber_primary: can_subscribe,
                enabled_publish_codecs: PUBLISH_CODECS
                    .iter()
                    .map(|mime| proto::Codec {
                        mime: (*mime).to_owned(),
                        fmtp_line: String::new(),
                    })
                    .collect(),
                ..Default::default()
            }),
        ));
        if !is_hidden(&info) {
            out.extend(self.broadcast_update(&info, Some(sid)));
        }
        out
    }

    /// The participant's connection ended or it asked to leave: the others are told it is gone.
    pub fn leave(
        &mut self,
        sid: &str,
        reason: proto::DisconnectReason,
        now: UnixMillis,
    ) -> Vec<Outbound> {
        let Some(mut info) = self.participants.remove(sid) else {
            return Vec::new();
        };
        if self.participants.is_empty() {
            self.emptied_at = Some(now);
        }
        self.pending_tracks.remove(sid);
        self.info.num_participants = self.visible_count();
        if is_hidden(&info) {
            return Vec::new();
        }
        info.state = proto::participant_info::State::Disconnected as i32;
        info.disconnect_reason = reason as i32;
        info.version += 1;
        self.broadcast_update(&info, Some(sid))
    }

    /// The server removes a participant: it receives a leave with the reason, then its
    /// connection is closed; the others see it disconnect.
    pub fn remove(
        &mut self,
        sid: &str,
        reason: proto::DisconnectReason,
        close: CloseReason,
        now: UnixMillis,
    ) -> Vec<Outbound> {
        if !self.participants.contains_key(sid) {
            return Vec::new();
        }
        let mut out = goodbye(sid, reason, close);
        out.extend(self.leave(sid, reason, now));
        out
    }

    /// Removes everyone (server shutdown, room deleted).
    pub fn close_all(&mut self, reason: proto::DisconnectReason, now: UnixMillis) -> Vec<Outbound> {
        let sids: Vec<String> = self.participants.keys().cloned().collect();
        sids.iter()
            .flat_map(|sid| self.remove(sid, reason, CloseReason::Normal, now))
            .collect()
    }

    /// Handles one request from participant `sid`.
    pub fn handle(&mut self, sid: &str, request: Request, now: UnixMillis) -> Vec<Outbound> {
        if !self.participants.contains_key(sid) {
            return Vec::new();
        }
        match request {
            Request::Ping(timestamp) => vec![Outbound::signal(sid, Response::Pong(timestamp))],
            Request::PingReq(ping) => vec![Outbound::signal(
                sid,
                Response::PongResp(proto::Pong {
                    last_ping_timestamp: ping.timestamp,
                    timestamp: now.0,
                }),
            )],
            Request::Leave(_) => self.leave(sid, proto::DisconnectReason::ClientInitiated, now),
            Request::UpdateMetadata(update) => self.update_metadata(sid, update),
            Request::AddTrack(add) => self.add_track(sid, add),
            Request::Mute(mute) => self.set_track_muted(sid, &mute.sid, mute.muted),
            other => {
                tracing::debug!(
                    participant = sid,
                    request = request_name(&other),
                    "not handled yet"
                );
                Vec::new()
            }
        }
    }

    /// `add_track`: checks the grant and answers `track_published` with the track's sid; the
    /// track is announced to the others once its media arrives ([`Room::bind_track`]).
    fn add_track(&mut self, sid: &str, request: proto::AddTrackRequest) -> Vec<Outbound> {
        let permission = self
            .participants
            .get(sid)
            .and_then(|p| p.permission.as_ref());
        if !publication::may_publish(permission, request.source) {
            return vec![Outbound::signal(
                sid,
                Response::RequestResponse(proto::RequestResponse {
                    reason: proto::request_response::Reason::NotAllowed as i32,
                    message: "this token may not publish from that source".to_owned(),
                    request: Some(proto::request_response::Request::AddTrack(request)),
                    ..Default::default()
                }),
            )];
        }
        let pending = PendingTrack::new(ids::track_sid(), &request);
        let track = pending.info.clone();
        let tracks = self.pending_tracks.entry(sid.to_owned()).or_default();
        // A repeated add_track for the same client track replaces the earlier one.
        tracks.retain(|t| t.cid != pending.cid);
        tracks.push(pending);
        vec![Outbound::signal(
            sid,
            Response::TrackPublished(proto::TrackPublishedResponse {
                cid: request.cid,
                track: Some(track),
            }),
        )]
    }

    /// Media from participant `sid` arrived on `mid` for the client track `cid`: the matching
    /// announced track becomes published and the others are told.
    pub fn bind_track(
        &mut self,
        sid: &str,
        cid: &str,
        kind: proto::TrackType,
        mid: &str,
    ) -> Option<(Publication, Vec<Outbound>)> {
        let pending = self.pending_tracks.get_mut(sid)?;
        let index = publication::match_pending(pending, cid, kind)?;
        let mut track = pending.remove(index).info;
        track.mid = mid.to_owned();
        let info = self.participants.get_mut(sid)?;
        info.tracks.push(track.clone());
        info.version += 1;
        let info = info.clone();
        let out = if is_hidden(&info) {
            Vec::new()
        } else {
            self.broadcast_update(&info, Some(sid))
        };
        Some((
            Publication {
                participant: sid.to_owned(),
                track,
            },
            out,
        ))
    }

    /// The codec participant `sid` asked for per client track id (`add_track` cids), for
    /// ordering the answers to its offers.
    pub fn codec_preferences(&self, sid: &str) -> HashMap<String, String> {
        let pending = self
            .pending_tracks
            .get(sid)
            .into_iter()
            .flatten()
            .map(|track| &track.info);
        let published = self
            .participants
            .get(sid)
            .into_iter()
            .flat_map(|info| &info.tracks);
        pending
            .chain(published)
            .flat_map(|track| &track.codecs)
            .filter(|codec| !codec.cid.is_empty() && !codec.mime_type.is_empty())
            .map(|codec| (codec.cid.clone(), codec.mime_type.clone()))
            .collect()
    }

    /// The tracks participant `sid` publishes.
    pub fn published_tracks(&self) -> Vec<Publication> {
        self.participants
            .values()
            .flat_map(|info| {
                info.tracks.iter().map(|track| Publication {
                    participant: info.sid.clone(),
                    track: track.clone(),
                })
            })
            .collect()
    }

    /// A participant (or an administrator) mutes or unmutes a published track.
    pub fn set_track_muted(&mut self, sid: &str, track_sid: &str, muted: bool) -> Vec<Outbound> {
        let Some(info) = self.participants.get_mut(sid) else {
            return Vec::new();
        };
        let Some(track) = info.tracks.iter_mut().find(|t| t.sid == track_sid) else {
            return Vec::new();
        };
        if track.muted == muted {
            return Vec::new();
        }
        track.muted = muted;
        info.version += 1;
        let info = info.clone();
        if is_hidden(&info) {
            return Vec::new();
        }
        self.broadcast_update(&info, None)
    }

    /// Participant `sid` stopped sending `track_sid` (it unpublished it): everyone who sees
    /// the participant gets the shorter track list. `None` when it was not published.
    pub fn unpublish_track(&mut self, sid: &str, track_sid: &str) -> Option<Vec<Outbound>> {
        let info = self.participants.get_mut(sid)?;
        let before = info.tracks.len();
        info.tracks.retain(|track| track.sid != track_sid);
        if info.tracks.len() == before {
            return None;
        }
        info.version += 1;
        let info = info.clone();
        Some(if is_hidden(&info) {
            Vec::new()
        } else {
            self.broadcast_update(&info, None)
        })
    }

    /// Unpublishes the tracks of `sid` whose source its permission no longer allows, and
    /// returns their sids; the participant's next update carries the shorter list.
    pub fn drop_disallowed_tracks(&mut self, sid: &str) -> Vec<String> {
        let Some(info) = self.participants.get_mut(sid) else {
            return Vec::new();
        };
        let permission = info.permission.clone();
        let (kept, dropped): (Vec<_>, Vec<_>) = info
            .tracks
            .drain(..)
            .partition(|track| publication::may_publish(permission.as_ref(), track.source));
        info.tracks = kept;
        if let Some(pending) = self.pending_tracks.get_mut(sid) {
            pending.retain(|t| publication::may_publish(permission.as_ref(), t.info.source));
        }
        dropped.into_iter().map(|track| track.sid).collect()
    }

    fn update_metadata(
        &mut self,
        sid: &str,
        update: proto::UpdateParticipantMetadata,
    ) -> Vec<Outbound> {
        let Some(info) = self.participants.get_mut(sid) else {
            return Vec::new();
        };
        let allowed = info
            .permission
            .as_ref()
            .is_some_and(|p| p.can_update_metadata);
        if !allowed {
            return vec![Outbound::signal(
                sid,
                Response::RequestResponse(proto::RequestResponse {
                    request_id: update.request_id,
                    reason: proto::request_response::Reason::NotAllowed as i32,
                    message: "this token may not update its own metadata".to_owned(),
                    ..Default::default()
                }),
            )];
        }
        apply_profile(info, update.name, update.metadata, update.attributes);
        info.version += 1;
        let info = info.clone();
        let mut out = vec![Outbound::signal(
            sid,
            Response::RequestResponse(proto::RequestResponse {
                request_id: update.request_id,
                reason: proto::request_response::Reason::Ok as i32,
                ..Default::default()
            }),
        )];
        // Everyone, the participant itself included, sees the new state.
        out.extend(self.broadcast_update(&info, None));
        out
    }

    /// A ParticipantUpdate about `info` to every participant except `skip`.
    /// An update about `info` to everyone who may see it: not `skip`, and nobody waiting in
    /// the lobby except the participant itself.
    fn broadcast_update(&self, info: &proto::ParticipantInfo, skip: Option<&str>) -> Vec<Outbound> {
        self.participants
            .iter()
            .filter(|(sid, recipient)| {
                Some(sid.as_str()) != skip && (**sid == info.sid || !is_in_lobby(recipient))
            })
            .map(|(sid, _)| {
                Outbound::signal(
                    sid,
                    Response::Update(proto::ParticipantUpdate {
                        participants: vec![info.clone()],
                    }),
                )
            })
            .collect()
    }

    /// The other participants `sid` may see: the visible ones, and nobody at all while it
    /// waits in the lobby.
    fn visible_to(&self, sid: &str) -> Vec<proto::ParticipantInfo> {
        if self.participants.get(sid).is_some_and(is_in_lobby) {
            return Vec::new();
        }
        self.participants
            .values()
            .filter(|other| other.sid != sid && !is_hidden(other))
            .cloned()
            .collect()
    }

    fn sid_of_identity(&self, identity: &str) -> Option<String> {
        self.participants
            .values()
            .find(|info| info.identity == identity)
            .map(|info| info.sid.clone())
    }

    fn visible_count(&self) -> u32 {
        let count = self.participants.values().filter(|p| !is_hidden(p)).count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// Name, metadata and attribute changes with LiveKit's semantics: empty name or metadata means
/// "unchanged", an attribute with an empty value is deleted.
fn apply_profile(
    info: &mut proto::ParticipantInfo,
    name: String,
    metadata: String,
    attributes: std::collections::HashMap<String, String>,
) {
    if !name.is_empty() {
        info.name = name;
    }
    if !metadata.is_empty() {
        info.metadata = metadata;
    }
    for (key, value) in attributes {
        if value.is_empty() {
            info.attributes.remove(&key);
        } else {
            info.attributes.insert(key, value);
        }
    }
}

fn is_hidden(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_some_and(|p| p.hidden)
}

/// A participant that may neither subscribe, publish nor send data waits in the lobby (a
/// meeting's waiting room): it sees nobody, hears nothing and receives no one's data until its
/// permissions change. (livekit-server would still send it the participant list and broadcast
/// data; see docs/COMPATIBILITY.md.)
pub fn is_in_lobby(info: &proto::ParticipantInfo) -> bool {
    info.permission.as_ref().is_none_or(permits_nothing)
}

/// Neither subscribing, publishing nor sending data: the lobby's permission.
pub fn permits_nothing(permission: &proto::ParticipantPermission) -> bool {
    !permission.can_subscribe && !permission.can_publish && !permission.can_publish_data
}

/// A stable name for logs.
fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Offer(_) => "offer",
        Request::Answer(_) => "answer",
        Request::Trickle(_) => "trickle",
        Request::AddTrack(_) => "add_track",
        Request::Mute(_) => "mute",
        Request::Subscription(_) => "subscription",
        Request::TrackSetting(_) => "track_setting",
        Request::SubscriptionPermission(_) => "subscription_permission",
        Request::SyncState(_) => "sync_state",
        Request::Simulate(_) => "simulate",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
