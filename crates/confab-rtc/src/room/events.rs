//! What a [`Room`](super::Room) tells its user: one event stream the UI can render from.
//!
//! The types are ours, not protobuf: identities instead of server-internal sids where users see
//! them, enums instead of `i32`s, and no fields the UI has no use for.

use std::collections::HashMap;

use livekit_protocol as proto;

use super::streams::{ByteStreamReader, StreamInfo};
use super::track::RemoteTrack;

/// Everything that happens in a room, in the order the server said it.
#[derive(Debug)]
pub enum RoomEvent {
    /// Someone is in the room (also sent for everyone present at join).
    ParticipantJoined(Participant),
    /// A participant's name, metadata, attributes or permissions changed.
    ParticipantUpdated(Participant),
    ParticipantLeft {
        identity: String,
    },
    /// A remote participant published a track (also sent for tracks present at join).
    TrackPublished {
        identity: String,
        track: TrackInfo,
    },
    TrackUnpublished {
        identity: String,
        track_sid: String,
    },
    /// A remote track's media now arrives: read its frames from `track`.
    TrackSubscribed {
        identity: String,
        info: TrackInfo,
        track: RemoteTrack,
    },
    /// A subscription ended: we unsubscribed, the track was unpublished, or its publisher
    /// left. Its [`RemoteTrack`] has delivered its last frame.
    TrackUnsubscribed {
        identity: String,
        track_sid: String,
    },
    /// A remote participant muted or unmuted a track.
    TrackMuted {
        identity: String,
        track_sid: String,
        muted: bool,
    },
    /// The server (a host) muted or unmuted one of our tracks.
    LocalTrackMuted {
        track_sid: String,
        muted: bool,
    },
    /// The loudest participants right now, loudest first (empty when nobody speaks).
    ActiveSpeakers(Vec<Speaker>),
    ConnectionQuality {
        identity: String,
        quality: ConnectionQuality,
    },
    /// Our own permissions changed (e.g. admitted from a waiting room).
    PermissionsChanged(Permissions),
    /// The room's metadata: at join when it has any, then each change.
    RoomMetadata(String),
    /// A data packet from another participant (or the server when `from` is `None`).
    Data(DataMessage),
    Chat(ChatMessage),
    /// A complete text stream on a topic other than chat.
    Text {
        info: StreamInfo,
        text: String,
    },
    /// A byte stream (a file) starts arriving: read it, or save it with
    /// [`files::save_byte_stream`](super::files::save_byte_stream).
    ByteStream(ByteStreamReader),
    /// The connection state changed.
    Connection(ConnectionState),
    /// One transport's media now goes over `path`: UDP, or ICE-TCP when UDP got no answer.
    MediaPath {
        role: crate::transport::Role,
        path: crate::transport::MediaPath,
    },
    /// The room is over for us; the last event.
    Disconnected(DisconnectReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub sid: String,
    pub identity: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    pub permissions: Permissions,
}

impl From<&proto::ParticipantInfo> for Participant {
    fn from(info: &proto::ParticipantInfo) -> Self {
        Self {
            sid: info.sid.clone(),
            identity: info.identity.clone(),
            name: info.name.clone(),
            metadata: info.metadata.clone(),
            attributes: info.attributes.clone(),
            permissions: info
                .permission
                .as_ref()
                .map(Permissions::from)
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub can_publish: bool,
    pub can_subscribe: bool,
    pub can_publish_data: bool,
}

impl From<&proto::ParticipantPermission> for Permissions {
    fn from(permission: &proto::ParticipantPermission) -> Self {
        Self {
            can_publish: permission.can_publish,
            can_subscribe: permission.can_subscribe,
            can_publish_data: permission.can_publish_data,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    Audio,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackSource {
    Camera,
    Microphone,
    ScreenShare,
    ScreenShareAudio,
    Unknown,
}

impl From<proto::TrackSource> for TrackSource {
    fn from(source: proto::TrackSource) -> Self {
        match source {
            proto::TrackSource::Camera => Self::Camera,
            proto::TrackSource::Microphone => Self::Microphone,
            proto::TrackSource::ScreenShare => Self::ScreenShare,
            proto::TrackSource::ScreenShareAudio => Self::ScreenShareAudio,
            _ => Self::Unknown,
        }
    }
}

impl From<TrackSource> for proto::TrackSource {
    fn from(source: TrackSource) -> Self {
        match source {
            TrackSource::Camera => Self::Camera,
            TrackSource::Microphone => Self::Microphone,
            TrackSource::ScreenShare => Self::ScreenShare,
            TrackSource::ScreenShareAudio => Self::ScreenShareAudio,
            TrackSource::Unknown => Self::Unknown,
        }
    }
}

/// A published track as the room describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub sid: String,
    pub name: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    pub muted: bool,
    pub width: u32,
    pub height: u32,
    pub simulcast: bool,
    /// `audio/opus`, `video/vp8`, … as the publisher negotiated it (empty until then).
    pub mime_type: String,
}

impl TrackInfo {
    /// `None` for data tracks and other kinds this client does not handle.
    #[allow(deprecated)] // `simulcast` is still what servers send.
    pub fn from_proto(info: &proto::TrackInfo) -> Option<Self> {
        let kind = match info.r#type() {
            proto::TrackType::Audio => TrackKind::Audio,
            proto::TrackType::Video => TrackKind::Video,
            _ => return None,
        };
        Some(Self {
            sid: info.sid.clone(),
            name: info.name.clone(),
            kind,
            source: info.source().into(),
            muted: info.muted,
            width: info.width,
            height: info.height,
            simulcast: info.simulcast,
            mime_type: info.mime_type.to_ascii_lowercase(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Speaker {
    pub identity: String,
    /// 0.0 (silent) to 1.0 (loudest).
    pub level: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionQuality {
    Excellent,
    Good,
    Poor,
    Lost,
}

impl From<proto::ConnectionQuality> for ConnectionQuality {
    fn from(quality: proto::ConnectionQuality) -> Self {
        match quality {
            proto::ConnectionQuality::Excellent => Self::Excellent,
            proto::ConnectionQuality::Good => Self::Good,
            proto::ConnectionQuality::Poor => Self::Poor,
            proto::ConnectionQuality::Lost => Self::Lost,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    /// The sender's identity; `None` when the server sent it.
    pub from: Option<String>,
    pub topic: Option<String>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: String,
    pub from: Option<String>,
    pub message: String,
    /// Milliseconds since the Unix epoch, as the sender stamped it.
    pub timestamp: i64,
    /// Whether only some participants received it.
    pub private: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The connection dropped; the client is resuming or rejoining. Media and data wait.
    Reconnecting,
    /// The same session is back: nobody saw us leave, tracks and subscriptions were kept, and
    /// reliable data sent meanwhile is delivered once.
    Resumed,
    /// The server could not resume, so we joined again as a new session: everyone was seen
    /// to leave and join again, our tracks were published again with their mute state.
    Rejoined,
}

/// Why the room ended for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// We called [`Room::leave`](super::Room::leave).
    ClientInitiated,
    /// The server sent `leave` with this reason (removed, room deleted, …).
    Server(proto::DisconnectReason),
    /// The connection was lost and could not be restored.
    ConnectionLost(String),
    /// Reconnecting, the server refused us (an expired token, for one).
    Refused(String),
    /// The server broke the protocol.
    ProtocolError(String),
}
