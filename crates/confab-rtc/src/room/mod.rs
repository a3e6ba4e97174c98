//! A room as its user sees it: [`Room::connect`] joins, the returned receiver carries every
//! [`RoomEvent`], and the `Room` handle publishes tracks, sends data and chat, and leaves.

mod data;
mod engine;
pub mod events;
pub mod files;
mod participants;
mod publication;
mod recovery;
mod resend;
pub mod rpc;
mod sections;
pub mod streams;
pub mod track;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use livekit_protocol as proto;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

pub use data::{DataOptions, MAX_PAYLOAD_BYTES};
pub use events::{
    ChatMessage, ConnectionQuality, ConnectionState, DataMessage, DisconnectReason, Participant,
    Permissions, RoomEvent, Speaker, TrackInfo, TrackKind, TrackSource,
};
pub use files::{FileCanceller, FileError, FileSend, SavedFile, SentFile, StreamOptions};
pub use rpc::{RpcError, RpcFuture, RpcHandler, RpcInvocation};
pub use streams::{ByteStreamItem, ByteStreamReader, StreamError, StreamInfo};
pub use track::{
    EncodedFrame, FrameCodec, Layer, LayerSpec, LocalTrack, PublisherFeedback, RemoteFrame,
    RemoteTrack, SubscriptionSettings, TrackControl, TrackOptions, TrackOptionsKind, VideoCodec,
};

use crate::signal::{self, JoinQuery, SignalError};
use engine::{Command, Engine, EngineParts};

/// How long the media connection may take to come up after the join (LiveKit's SDKs allow
/// 15 s as well).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the server may take to confirm a published track.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// Events waiting for the user; the engine waits when the user falls this far behind.
const EVENT_CAPACITY: usize = 4096;
const COMMAND_CAPACITY: usize = 256;
/// Encoded frames waiting to be sent (about a second of 3-layer 30 fps video plus audio).
const FRAME_CAPACITY: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error(transparent)]
    Signal(#[from] SignalError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebRTC: {0}")]
    Transport(#[from] crate::transport::TransportError),
    #[error("the media connection did not come up within {0:?}")]
    ConnectTimeout(Duration),
    #[error("the room ended: {0:?}")]
    Disconnected(DisconnectReason),
    #[error("this participant may not {0}")]
    NotAllowed(&'static str),
    #[error("the server did not accept the track: {0}")]
    PublishRefused(String),
    #[error("the server did not confirm the track within {0:?}")]
    PublishTimeout(Duration),
    #[error("{0} bytes is more than one data packet may carry ({MAX_PAYLOAD_BYTES})")]
    TooLarge(usize),
    #[error("too much data is queued; try again later")]
    Busy,
    #[error("cancelled")]
    Cancelled,
    #[error("the room is closed")]
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomOptions {
    /// Subscribe to every track as it is published.
    pub auto_subscribe: bool,
    /// The local address for media; by default the one that routes to the server.
    pub bind_ip: Option<IpAddr>,
    /// Ask for one peer connection (LiveKit 1.9+ `/rtc/v1`, where the client makes every offer
    /// and a join takes fewer round trips); servers without it get two.
    pub single_peer_connection: bool,
}

impl Default for RoomOptions {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            bind_ip: None,
            single_peer_connection: true,
        }
    }
}

/// A joined room. Dropping it leaves the room.
#[derive(Debug)]
pub struct Room {
    commands: mpsc::Sender<Command>,
    /// Set by [`Room::leave`], so dropping afterwards does not ask twice.
    left: bool,
    local: Participant,
    room_name: String,
    room_sid: String,
    single_peer_connection: bool,
}

impl Room {
    /// Joins the room `token` grants on `server` (`ws://`, `wss://`, `http(s)://`), and waits
    /// until media can flow. Events, starting with everyone already present, arrive on the
    /// returned receiver; the last one is [`RoomEvent::Disconnected`].
    pub async fn connect(
        server: &str,
        token: &str,
        options: RoomOptions,
    ) -> Result<(Room, mpsc::Receiver<RoomEvent>), RoomError> {
        let mut query = JoinQuery {
            auto_subscribe: options.auto_subscribe,
            single_peer_connection: options.single_peer_connection,
            ..JoinQuery::default()
        };
        let bind_ip = match options.bind_ip {
            Some(ip) => ip,
            None => local_ip_towards(server).await?,
        };
        let sockets = recovery::bind_media_sockets(bind_ip).await?;
        let joined = signal::connect(server, token, &query).await?;
        // Resumes and rejoins speak what the server agreed to.
        query.single_peer_connection = joined.single_peer_connection;
        let single_peer_connection = joined.single_peer_connection;
        let local = joined
            .join
            .participant
            .as_ref()
            .map(Participant::from)
            .unwrap_or_else(|| Participant::from(&proto::ParticipantInfo::default()));
        let (room_name, room_sid) = joined
            .join
            .room
            .as_ref()
            .map(|room| (room.name.clone(), room.sid.clone()))
            .unwrap_or_default();
        let (command_sender, commands) = mpsc::channel(COMMAND_CAPACITY);
        let (frame_sender, frames) = mpsc::channel(FRAME_CAPACITY);
        let (events_sender, events) = mpsc::channel(EVENT_CAPACITY);
        let (ready_sender, ready) = oneshot::channel();
        let engine = Engine::new(EngineParts {
            signal: joined.client,
            signal_events: joined.events,
            join: joined.join,
            dial: recovery::Dial {
                server: server.to_owned(),
                token: token.to_owned(),
                query,
                bind_ip,
            },
            sockets,
            commands,
            command_sender: command_sender.clone(),
            frames,
            frame_sender,
            events: events_sender,
            ready: ready_sender,
        })?;
        tokio::spawn(engine.run());
        let room = Room {
            commands: command_sender,
            left: false,
            local,
            room_name,
            room_sid,
            single_peer_connection,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ready).await {
            Ok(Ok(Ok(()))) => Ok((room, events)),
            Ok(Ok(Err(error))) => Err(error),
            Ok(Err(_)) => Err(RoomError::Closed),
            Err(_) => Err(RoomError::ConnectTimeout(CONNECT_TIMEOUT)),
        }
    }

    /// Ourselves, as the server admitted us when we connected (after a
    /// [`ConnectionState::Rejoined`] the server knows us under a new sid).
    pub fn local_participant(&self) -> &Participant {
        &self.local
    }

    pub fn name(&self) -> &str {
        &self.room_name
    }

    pub fn sid(&self) -> &str {
        &self.room_sid
    }

    /// Whether media and data share one peer connection (see
    /// [`RoomOptions::single_peer_connection`]).
    pub fn single_peer_connection(&self) -> bool {
        self.single_peer_connection
    }

    /// Announces a track and negotiates it; frames can be sent once this returns.
    pub async fn publish_track(&self, options: TrackOptions) -> Result<LocalTrack, RoomError> {
        let (reply, answer) = oneshot::channel();
        self.command(Command::Publish { options, reply }).await?;
        match tokio::time::timeout(PUBLISH_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RoomError::Closed),
            Err(_) => Err(RoomError::PublishTimeout(PUBLISH_TIMEOUT)),
        }
    }

    /// Sends `payload` to everyone or to `options.destinations`.
    pub async fn publish_data(
        &self,
        payload: Vec<u8>,
        options: &DataOptions,
    ) -> Result<(), RoomError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(RoomError::TooLarge(payload.len()));
        }
        let packet = data::user_packet(payload, options);
        self.send_packet(packet, options.reliable).await
    }

    /// Sends a chat message the way LiveKit's components do (a text stream on `lk.chat`), to
    /// everyone or to `to`. Returns the message as others will see it.
    pub async fn send_chat(&self, message: &str, to: &[String]) -> Result<ChatMessage, RoomError> {
        let info = self.send_text(message, streams::CHAT_TOPIC, to).await?;
        Ok(ChatMessage {
            id: info.id,
            from: Some(self.local.identity.clone()),
            message: message.to_owned(),
            timestamp: info.timestamp,
            private: !to.is_empty(),
        })
    }

    /// Sends `text` as a text stream on `topic` (LiveKit's `sendText`), to everyone or to `to`.
    pub async fn send_text(
        &self,
        text: &str,
        topic: &str,
        to: &[String],
    ) -> Result<StreamInfo, RoomError> {
        let info = StreamInfo {
            id: new_id(),
            from: Some(self.local.identity.clone()),
            topic: topic.to_owned(),
            mime_type: "text/plain".into(),
            name: String::new(),
            total_length: Some(text.len() as u64),
            attributes: Default::default(),
            timestamp: data::unix_millis(),
        };
        let header =
            proto::data_stream::header::ContentHeader::TextHeader(proto::data_stream::TextHeader {
                operation_type: proto::data_stream::OperationType::Create as i32,
                ..Default::default()
            });
        self.send_packet(streams::header_packet(&info, header, to), true)
            .await?;
        for (index, chunk) in streams::text_chunks(text).into_iter().enumerate() {
            let packet =
                streams::chunk_packet(&info.id, index as u64, chunk.as_bytes().to_vec(), to);
            self.send_packet(packet, true).await?;
        }
        let trailer = streams::trailer_packet(&info.id, "", Default::default(), to);
        self.send_packet(trailer, true).await?;
        Ok(info)
    }

    /// Starts sending the file at `path` as a byte stream (LiveKit's `sendFile`).
    pub async fn send_file(
        &self,
        path: &std::path::Path,
        options: StreamOptions,
    ) -> Result<FileSend, RoomError> {
        files::send_file(self.commands.clone(), path, options).await
    }

    async fn send_packet(
        &self,
        packet: proto::DataPacket,
        reliable: bool,
    ) -> Result<(), RoomError> {
        engine::send_packet(&self.commands, packet, reliable).await
    }

    /// Calls `method` on participant `destination` and returns its answer. The callee has
    /// [`rpc::ACK_TIMEOUT`] to acknowledge and `response_timeout` (LiveKit's default 15 s when
    /// `None`) to answer; failures are [`RpcError`]s with LiveKit's codes.
    pub async fn perform_rpc(
        &self,
        destination: &str,
        method: &str,
        payload: &str,
        response_timeout: Option<Duration>,
    ) -> Result<String, RpcError> {
        rpc::perform(
            &self.commands,
            destination,
            method,
            payload.to_owned(),
            response_timeout.unwrap_or(rpc::DEFAULT_RESPONSE_TIMEOUT),
        )
        .await
    }

    /// Answers calls of `method` with `handler` (replacing an earlier one). A method nobody
    /// registered is answered with `UNSUPPORTED_METHOD`.
    pub async fn register_rpc_method<F, Fut>(
        &self,
        method: &str,
        handler: F,
    ) -> Result<(), RoomError>
    where
        F: Fn(RpcInvocation) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<String, RpcError>> + Send + 'static,
    {
        let handler = RpcHandler::new(handler);
        self.command(Command::RegisterRpc {
            method: method.to_owned(),
            handler: Some(handler),
        })
        .await
    }

    pub async fn unregister_rpc_method(&self, method: &str) -> Result<(), RoomError> {
        self.command(Command::RegisterRpc {
            method: method.to_owned(),
            handler: None,
        })
        .await
    }

    /// Subscribes to or unsubscribes from a remote track (manual subscription).
    pub async fn set_subscribed(&self, track_sid: &str, subscribe: bool) -> Result<(), RoomError> {
        self.command(Command::Subscribe {
            track_sid: track_sid.to_owned(),
            subscribe,
        })
        .await
    }

    /// Sets (or, with an empty value, removes) our own attributes; everyone sees them in a
    /// `ParticipantUpdated`. Needs `canUpdateOwnMetadata`; without it the server ignores this.
    pub async fn set_attributes(
        &self,
        attributes: std::collections::HashMap<String, String>,
    ) -> Result<(), RoomError> {
        self.command(Command::UpdateProfile(proto::UpdateParticipantMetadata {
            attributes,
            ..Default::default()
        }))
        .await
    }

    /// Leaves the room; the event stream ends with `Disconnected(ClientInitiated)`.
    pub async fn leave(mut self) -> Result<(), RoomError> {
        self.left = true;
        let (reply, done) = oneshot::channel();
        self.command(Command::Leave { reply }).await?;
        done.await.map_err(|_| RoomError::Closed)
    }

    async fn command(&self, command: Command) -> Result<(), RoomError> {
        engine::send_command(&self.commands, command).await
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        if !self.left {
            // Track handles keep the engine alive; without this it would stay in the room.
            let (reply, _) = oneshot::channel();
            let _ = self.commands.try_send(Command::Leave { reply });
        }
    }
}

/// The local address the system would use to reach `server`: connecting a UDP socket sends
/// nothing, it only asks the routing table.
async fn local_ip_towards(server: &str) -> Result<IpAddr, RoomError> {
    let authority = signal::url::server_host_port(server)?;
    let target = tokio::net::lookup_host(&authority)
        .await?
        .next()
        .ok_or_else(|| SignalError::Unreachable(format!("{authority} does not resolve")))?;
    let unspecified: IpAddr = if target.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    };
    let probe = UdpSocket::bind(SocketAddr::new(unspecified, 0)).await?;
    probe.connect(target).await?;
    Ok(probe.local_addr()?.ip())
}

/// A random id for a message or stream (LiveKit's SDKs use UUIDs; any unique string works).
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
