//! The task behind a [`Room`](super::Room): it owns the signalling connection, both WebRTC
//! transports and their UDP sockets, and turns what happens on them into [`RoomEvent`]s.
//!
//! One task, one `select!` loop: commands and frames from the room's user, signal messages,
//! datagrams, and the transports' timers. Nothing here sleeps to wait for something; every wait
//! is on one of those inputs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use str0m::bwe::Bitrate;
use str0m::media::{Direction, MediaKind, Mid, Rid};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

use super::RoomError;
use super::data;
use super::events::ConnectionState;
use super::events::{
    ConnectionQuality, DisconnectReason, Permissions, RoomEvent, Speaker, TrackKind,
};
use super::participants::Participants;
use super::publication::{self, Published};
use super::recovery::{self, Dial, Reconnected, Recovery, Step};
use super::resend::ResendBuffer;
use super::rpc::{self, CallEvent, RpcHandler, RpcState};
use super::sections::{ReceiveSections, SectionState};
use super::streams::IncomingStreams;
use super::track::{
    EncodedFrame, Layer, LocalTrack, PublisherFeedback, RemoteFrame, RemoteTrack,
    SubscriptionSettings, TrackOptions, TrackOptionsKind,
};
use crate::ice_tcp::TcpPaths;
use crate::signal::{self, Keepalive, SignalClient, SignalClosed, SignalEvent};
use crate::transport::{
    LOSSY_LABEL, MediaPath, PeerTransport, Poll, RELIABLE_LABEL, Role, TransportEvent,
};

/// Frames queued per subscribed track before the oldest reader falls behind and frames drop.
const REMOTE_FRAME_QUEUE: usize = 256;
/// Data packets waiting for the publisher's channels to open.
const MAX_QUEUED_PACKETS: usize = 1024;
const DATAGRAM_BUFFER: usize = 2048;
/// How long a leave waits for queued data to be acknowledged.
const LEAVE_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the room's handles ask the engine to do.
#[derive(Debug)]
pub enum Command {
    Publish {
        options: TrackOptions,
        reply: oneshot::Sender<Result<LocalTrack, RoomError>>,
    },
    SetMuted {
        cid: String,
        muted: bool,
    },
    /// Stops publishing: the track's section goes inactive in the next offer, and the server
    /// tells everyone the track is gone.
    Unpublish {
        cid: String,
    },
    PublishData {
        packet: Box<proto::DataPacket>,
        reliable: bool,
        reply: oneshot::Sender<Result<(), RoomError>>,
    },
    Subscribe {
        track_sid: String,
        subscribe: bool,
    },
    /// Changes our own name, metadata or attributes (LiveKit's `UpdateParticipantMetadata`;
    /// the token must allow `canUpdateOwnMetadata`).
    UpdateProfile(proto::UpdateParticipantMetadata),
    RequestKeyframe {
        track_sid: String,
    },
    TrackSettings {
        track_sid: String,
        settings: SubscriptionSettings,
    },
    PerformRpc {
        id: String,
        destination: String,
        packet: Box<proto::DataPacket>,
        events: mpsc::Sender<CallEvent>,
    },
    /// Registers (or with `None` removes) the handler of an RPC method.
    RegisterRpc {
        method: String,
        handler: Option<RpcHandler>,
    },
    Leave {
        reply: oneshot::Sender<()>,
    },
}

/// Hands `command` to the engine; fails once the room has ended.
pub async fn send_command(
    commands: &mpsc::Sender<Command>,
    command: Command,
) -> Result<(), RoomError> {
    commands.send(command).await.map_err(|_| RoomError::Closed)
}

/// A data packet's fate: resolves once SCTP has taken it (or says why it never will).
pub type Written = oneshot::Receiver<Result<(), RoomError>>;

/// Queues `packet` on the reliable or lossy channel without waiting for it to be written.
pub async fn queue_packet(
    commands: &mpsc::Sender<Command>,
    packet: proto::DataPacket,
    reliable: bool,
) -> Result<Written, RoomError> {
    let (reply, written) = oneshot::channel();
    send_command(
        commands,
        Command::PublishData {
            packet: Box::new(packet),
            reliable,
            reply,
        },
    )
    .await?;
    Ok(written)
}

/// Waits until a queued packet has been written to its data channel.
pub async fn written(written: Written) -> Result<(), RoomError> {
    written.await.map_err(|_| RoomError::Closed)?
}

/// Queues `packet` and waits until it has been written to its data channel.
pub async fn send_packet(
    commands: &mpsc::Sender<Command>,
    packet: proto::DataPacket,
    reliable: bool,
) -> Result<(), RoomError> {
    written(queue_packet(commands, packet, reliable).await?).await
}

/// One of the two transports with its UDP socket and its ICE-TCP connections.
#[derive(Debug)]
struct Link {
    transport: PeerTransport,
    socket: UdpSocket,
    tcp: TcpPaths,
    wake_at: Instant,
}

impl Link {
    fn new(role: Role, now: Instant, socket: UdpSocket) -> Result<Self, RoomError> {
        let local = socket.local_addr()?;
        Ok(Self {
            transport: PeerTransport::new(role, now, local)?,
            socket,
            tcp: TcpPaths::new(local.ip()),
            wake_at: now,
        })
    }
}

/// A data packet waiting for its channel; `written` hears when SCTP took it.
#[derive(Debug)]
struct QueuedPacket {
    label: &'static str,
    /// A reliable packet's sequence number (kept for a resend after a resume).
    sequence: Option<u32>,
    bytes: Vec<u8>,
    written: Option<oneshot::Sender<Result<(), RoomError>>>,
}

/// A subscribed remote track: where its frames go.
#[derive(Debug)]
struct Subscribed {
    track_sid: String,
    kind: TrackKind,
    frames: Option<mpsc::Sender<RemoteFrame>>,
    /// The receiving half, until the track is announced to the user.
    receiver: Option<mpsc::Receiver<RemoteFrame>>,
    dropped: u64,
}

impl Subscribed {
    /// Whether this is `track_sid`'s subscription and still delivers frames.
    fn is_live_for(&self, track_sid: &str) -> bool {
        self.track_sid == track_sid && self.frames.is_some()
    }
}

pub struct Engine {
    /// `None` while reconnecting.
    signal: Option<SignalClient>,
    signal_events: Option<mpsc::Receiver<SignalEvent>>,
    /// How to reach the server again, and the session's ping interval for a resume.
    dial: Dial,
    keepalive: Keepalive,
    recovery: Option<Recovery>,
    /// Requests made while signalling was down, sent once it is back.
    deferred_requests: Vec<Request>,
    /// Reliable packets SCTP took, for a resend after a resume.
    sent_reliable: ResendBuffer,
    /// The last reliable sequence number seen per sender, to drop resent duplicates.
    received_sequences: HashMap<String, u32>,
    /// The next publisher offer restarts ICE (after a resume).
    publisher_ice_restart: bool,
    rpc: RpcState,
    commands: mpsc::Receiver<Command>,
    command_sender: mpsc::Sender<Command>,
    frames: mpsc::Receiver<(String, EncodedFrame)>,
    frame_sender: mpsc::Sender<(String, EncodedFrame)>,
    events: mpsc::Sender<RoomEvent>,
    publisher: Link,
    subscriber: Link,
    local_sid: String,
    local_identity: String,
    permissions: Permissions,
    participants: Participants,
    /// Publications the server has not confirmed yet, by cid.
    awaiting_publish:
        HashMap<String, (TrackOptions, oneshot::Sender<Result<LocalTrack, RoomError>>)>,
    published: Vec<Published>,
    /// Publisher sections of unpublished tracks, made inactive in the next offer.
    retired_mids: Vec<Mid>,
    next_cid: u32,
    publisher_has_channels: bool,
    publisher_needs_offer: bool,
    next_offer_id: u32,
    subscribed: HashMap<Mid, Subscribed>,
    /// The server's mid → track sid map from its latest offer.
    offered_tracks: HashMap<String, String>,
    /// Tracks we unsubscribed from: an offer does not bring them back until we subscribe again.
    declined: HashSet<String>,
    /// On one peer connection: the sections we offered to receive on.
    receive_sections: ReceiveSections,
    queued_data: VecDeque<QueuedPacket>,
    incoming_streams: IncomingStreams,
    data_sequence: u32,
    /// Set by a leave: who to tell, and how long queued data may take to drain.
    leaving: Option<(oneshot::Sender<()>, Instant)>,
    /// Told once the primary transport is up (or failed).
    ready: Option<oneshot::Sender<Result<(), RoomError>>>,
    primary: Role,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("local_sid", &self.local_sid)
            .finish_non_exhaustive()
    }
}

/// Everything [`Engine::new`] needs.
#[derive(Debug)]
pub struct EngineParts {
    pub signal: SignalClient,
    pub signal_events: mpsc::Receiver<SignalEvent>,
    pub join: proto::JoinResponse,
    pub dial: Dial,
    pub sockets: [UdpSocket; 2],
    pub commands: mpsc::Receiver<Command>,
    pub command_sender: mpsc::Sender<Command>,
    pub frames: mpsc::Receiver<(String, EncodedFrame)>,
    pub frame_sender: mpsc::Sender<(String, EncodedFrame)>,
    pub events: mpsc::Sender<RoomEvent>,
    pub ready: oneshot::Sender<Result<(), RoomError>>,
}

impl Engine {
    pub fn new(parts: EngineParts) -> Result<Self, RoomError> {
        let now = Instant::now();
        let [publisher_socket, subscriber_socket] = parts.sockets;
        let local = parts.join.participant.clone().unwrap_or_default();
        let mut participants = Participants::new(&local.sid);
        let initial: Vec<RoomEvent> = parts
            .join
            .other_participants
            .iter()
            .flat_map(|info| participants.apply(info))
            .collect();
        let metadata = parts
            .join
            .room
            .as_ref()
            .map(|room| room.metadata.clone())
            .filter(|metadata| !metadata.is_empty());
        for event in initial
            .into_iter()
            .chain(metadata.map(RoomEvent::RoomMetadata))
        {
            let _ = parts.events.try_send(event);
        }
        let primary = if parts.join.subscriber_primary {
            Role::Subscriber
        } else {
            Role::Publisher
        };
        let mut engine = Self {
            signal: Some(parts.signal),
            signal_events: Some(parts.signal_events),
            dial: parts.dial,
            keepalive: Keepalive::from_join(&parts.join),
            recovery: None,
            deferred_requests: Vec::new(),
            sent_reliable: ResendBuffer::default(),
            received_sequences: HashMap::new(),
            publisher_ice_restart: false,
            rpc: RpcState::default(),
            commands: parts.commands,
            command_sender: parts.command_sender,
            frames: parts.frames,
            frame_sender: parts.frame_sender,
            events: parts.events,
            publisher: Link::new(Role::Publisher, now, publisher_socket)?,
            subscriber: Link::new(Role::Subscriber, now, subscriber_socket)?,
            local_sid: local.sid.clone(),
            local_identity: local.identity.clone(),
            permissions: local
                .permission
                .as_ref()
                .map(Permissions::from)
                .unwrap_or_default(),
            participants,
            awaiting_publish: HashMap::new(),
            published: Vec::new(),
            retired_mids: Vec::new(),
            next_cid: 0,
            publisher_has_channels: false,
            publisher_needs_offer: false,
            next_offer_id: 1,
            subscribed: HashMap::new(),
            offered_tracks: HashMap::new(),
            declined: HashSet::new(),
            receive_sections: ReceiveSections::default(),
            queued_data: VecDeque::new(),
            incoming_streams: IncomingStreams::default(),
            data_sequence: 0,
            ready: Some(parts.ready),
            leaving: None,
            primary,
        };
        if primary == Role::Publisher {
            // The server waits for our offer before it has anything to say on media.
            engine.publisher_needs_offer = true;
        }
        Ok(engine)
    }

    /// Runs until the room ends; the last event sent is `Disconnected`.
    pub async fn run(mut self) {
        let reason = self.run_loop().await;
        tracing::debug!(?reason, "room ended");
        self.publisher.transport.close();
        self.subscriber.transport.close();
        self.flush_output().await;
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(RoomError::Disconnected(reason.clone())));
        }
        let _ = self.events.send(RoomEvent::Disconnected(reason)).await;
    }

    async fn run_loop(&mut self) -> DisconnectReason {
        let mut publisher_buffer = vec![0u8; DATAGRAM_BUFFER];
        let mut subscriber_buffer = vec![0u8; DATAGRAM_BUFFER];
        loop {
            self.negotiate_publisher().await;
            // SCTP makes room as acknowledgements arrive, on any input.
            self.send_queued_data();
            self.flush_output().await;
            if let Some(reason) = self.check_transports().await {
                return reason;
            }
            if let Some(recovery) = &mut self.recovery {
                recovery.tick(Instant::now(), &self.dial, &self.local_sid, self.keepalive);
            }
            if let Some(reason) = self.leave_when_drained().await {
                return reason;
            }
            let mut wake_at = self.publisher.wake_at.min(self.subscriber.wake_at);
            if let Some((_, limit)) = &self.leaving {
                wake_at = wake_at.min(*limit);
            }
            if let Some(at) = self.recovery.as_ref().and_then(Recovery::wake_at) {
                wake_at = wake_at.min(at);
            }
            tokio::select! {
                event = next_signal_event(&mut self.signal_events) => {
                    if let Some(reason) = self.on_signal(event).await {
                        return reason;
                    }
                }
                outcome = recovery_outcome(&mut self.recovery) => {
                    if let Some(reason) = self.on_reconnect_attempt(outcome).await {
                        return reason;
                    }
                }
                command = self.commands.recv() => {
                    // The engine keeps a sender itself (for the track handles it makes), so
                    // the channel never closes; this only satisfies the type.
                    let Some(command) = command else {
                        return DisconnectReason::ClientInitiated;
                    };
                    self.on_command(command).await;
                }
                Some((cid, frame)) = self.frames.recv() => self.on_frame(&cid, frame),
                received = self.publisher.socket.recv_from(&mut publisher_buffer) => {
                    if let Ok((length, source)) = received {
                        let datagram = &publisher_buffer[..length];
                        receive(&mut self.publisher, MediaPath::Udp, source, datagram);
                    }
                }
                received = self.subscriber.socket.recv_from(&mut subscriber_buffer) => {
                    if let Ok((length, source)) = received {
                        let datagram = &subscriber_buffer[..length];
                        receive(&mut self.subscriber, MediaPath::Udp, source, datagram);
                    }
                }
                (source, contents) = self.publisher.tcp.recv() => {
                    receive(&mut self.publisher, MediaPath::Tcp, source, &contents);
                }
                (source, contents) = self.subscriber.tcp.recv() => {
                    receive(&mut self.subscriber, MediaPath::Tcp, source, &contents);
                }
                () = tokio::time::sleep_until(wake_at.into()) => {
                    let now = Instant::now();
                    for link in [&mut self.publisher, &mut self.subscriber] {
                        if link.wake_at <= now
                            && let Err(error) = link.transport.advance(now)
                        {
                            tracing::warn!(%error, role = ?link.transport.role(), "transport timer");
                        }
                    }
                }
            }
        }
    }

    /// One peer connection carries everything (`/rtc/v1`): the publisher link also receives,
    /// and the subscriber link stays unused.
    fn single_peer_connection(&self) -> bool {
        self.dial.query.single_peer_connection
    }

    /// The link remote media arrives on.
    fn receiving(&self) -> &Link {
        if self.single_peer_connection() {
            &self.publisher
        } else {
            &self.subscriber
        }
    }

    fn receiving_mut(&mut self) -> &mut Link {
        if self.single_peer_connection() {
            &mut self.publisher
        } else {
            &mut self.subscriber
        }
    }

    fn primary(&self) -> &Link {
        match self.primary {
            Role::Publisher => &self.publisher,
            Role::Subscriber => &self.subscriber,
        }
    }

    /// Reports the first connection, notices lost media (and starts recovering), and
    /// finishes a recovery once media is back.
    async fn check_transports(&mut self) -> Option<DisconnectReason> {
        if self.primary().transport.is_connected()
            && let Some(ready) = self.ready.take()
        {
            let _ = ready.send(Ok(()));
        }
        match &self.recovery {
            Some(recovery) if recovery.awaits_media() => {
                if self.media_is_back() {
                    let state = match recovery.step() {
                        Step::Resume => ConnectionState::Resumed,
                        Step::Rejoin => ConnectionState::Rejoined,
                    };
                    tracing::info!(?state, "reconnected");
                    self.recovery = None;
                    self.emit(RoomEvent::Connection(state)).await;
                }
                None
            }
            Some(_) => None,
            None => {
                let lost = [&self.publisher, &self.subscriber]
                    .into_iter()
                    .find(|link| {
                        link.transport.has_failed()
                            || (link.transport.is_connected() && !link.transport.is_ice_up())
                    });
                let (role, failed) =
                    lost.map(|l| (l.transport.role(), l.transport.has_failed()))?;
                let step = if failed { Step::Rejoin } else { Step::Resume };
                self.start_recovery(step, &format!("the {role:?} media connection was lost"))
                    .await
            }
        }
    }

    /// Whether every transport that carries something is connected again.
    fn media_is_back(&self) -> bool {
        let primary = &self.primary().transport;
        let publisher = &self.publisher.transport;
        let publisher_in_use = self.publisher_has_channels || !self.published.is_empty();
        primary.is_connected()
            && primary.is_ice_up()
            && (!publisher_in_use || (publisher.is_connected() && publisher.is_ice_up()))
    }

    /// The connection dropped: from now on the engine resumes or rejoins. Before the room was
    /// ever up there is nothing to recover: the connect fails instead.
    async fn start_recovery(&mut self, step: Step, why: &str) -> Option<DisconnectReason> {
        if self.ready.is_some() || self.leaving.is_some() {
            return Some(DisconnectReason::ConnectionLost(why.to_owned()));
        }
        if self.recovery.is_some() {
            return None;
        }
        tracing::info!(why, ?step, "connection lost; recovering");
        self.signal = None;
        self.signal_events = None;
        self.recovery = Some(Recovery::new(Instant::now(), step));
        self.emit(RoomEvent::Connection(ConnectionState::Reconnecting))
            .await;
        None
    }

    /// Applies what a reconnect attempt brought back, or schedules the next one.
    async fn on_reconnect_attempt(
        &mut self,
        outcome: Result<Reconnected, recovery::AttemptError>,
    ) -> Option<DisconnectReason> {
        let now = Instant::now();
        let applied = match outcome {
            Ok(Reconnected::Resumed(resumed)) => {
                self.apply_resume(resumed);
                Ok(())
            }
            Ok(Reconnected::Rejoined { joined, sockets }) => {
                self.apply_rejoin(*joined, sockets).await
            }
            Err(error) => Err(error),
        };
        let recovery = self.recovery.as_mut()?;
        match applied {
            Ok(()) => {
                recovery.signalling_back(now);
                None
            }
            Err(error) => recovery.failed(now, &error).err(),
        }
    }

    /// The server kept our session: restart ICE on both transports, resend the reliable data
    /// it did not get, and send what was asked for meanwhile.
    fn apply_resume(&mut self, resumed: signal::Resumed) {
        self.signal = Some(resumed.client);
        self.signal_events = Some(resumed.events);
        if let Some(reconnect) = &resumed.reconnect {
            let resend = self.sent_reliable.after(reconnect.last_message_seq);
            tracing::info!(
                last_received = reconnect.last_message_seq,
                resent = resend.len(),
                "resumed"
            );
            for (sequence, bytes) in resend.into_iter().rev() {
                self.queued_data.push_front(QueuedPacket {
                    label: RELIABLE_LABEL,
                    sequence: Some(sequence),
                    bytes,
                    written: None,
                });
            }
        }
        // The subscriber restarts ICE when the server's next offer says so; the publisher's
        // offer is ours to make. An offer the outage swallowed is made again.
        if self.publisher.transport.abandon_offer() {
            let publisher = &self.publisher.transport;
            self.receive_sections
                .offer_abandoned(|mid| publisher.has_media(mid));
            for track in &mut self.published {
                if track
                    .mid
                    .is_some_and(|mid| !self.publisher.transport.has_media(mid))
                {
                    track.mid = None;
                }
            }
            if !self.publisher.transport.is_connected() {
                self.publisher_has_channels = false;
            }
        }
        if self.publisher_has_channels {
            self.publisher_ice_restart = true;
            self.publisher_needs_offer = true;
        }
        for request in std::mem::take(&mut self.deferred_requests) {
            if let Some(signal) = &self.signal
                && signal.try_send(request).is_err()
            {
                tracing::debug!("a deferred request was not sent");
            }
        }
    }

    /// The server could not resume: this is a new session. Everyone we knew is gone and comes
    /// back from the new JoinResponse, our tracks are announced again (same cids, same mute
    /// state, new sids), and both transports start over.
    async fn apply_rejoin(
        &mut self,
        joined: signal::Joined,
        sockets: [UdpSocket; 2],
    ) -> Result<(), recovery::AttemptError> {
        let now = Instant::now();
        let [publisher_socket, subscriber_socket] = sockets;
        let publisher = Link::new(Role::Publisher, now, publisher_socket)?;
        let subscriber = Link::new(Role::Subscriber, now, subscriber_socket)?;
        self.publisher.transport.close();
        self.subscriber.transport.close();
        self.flush_output().await;
        self.publisher = publisher;
        self.subscriber = subscriber;
        let join = joined.join;
        let local = join.participant.clone().unwrap_or_default();
        let old = std::mem::replace(&mut self.participants, Participants::new(&local.sid));
        for event in old.into_departures() {
            self.emit_participant_event(event).await;
        }
        self.local_sid = local.sid.clone();
        self.local_identity = local.identity.clone();
        self.primary = if join.subscriber_primary {
            Role::Subscriber
        } else {
            Role::Publisher
        };
        self.subscribed.clear();
        self.offered_tracks.clear();
        self.declined.clear();
        self.receive_sections = ReceiveSections::default();
        self.received_sequences.clear();
        self.sent_reliable = ResendBuffer::default();
        self.deferred_requests.clear();
        self.publisher_has_channels = false;
        self.publisher_ice_restart = false;
        self.publisher_needs_offer =
            self.primary == Role::Publisher || !self.queued_data.is_empty();
        self.signal = Some(joined.client);
        self.signal_events = Some(joined.events);
        self.apply_local_permissions(&local).await;
        for info in &join.other_participants {
            for event in self.participants.apply(info) {
                self.emit(event).await;
            }
        }
        self.keepalive = Keepalive::from_join(&join);
        let mut announcements = Vec::new();
        // A new publisher connection: the old one's sections are gone.
        self.retired_mids.clear();
        for track in &mut self.published {
            track.mid = None;
            track.pt = None;
            track.confirmed = false;
            track.options.muted = track.muted;
            announcements.push(publication::add_track_request(&track.cid, &track.options));
        }
        for (cid, (options, _)) in &self.awaiting_publish {
            announcements.push(publication::add_track_request(cid, options));
        }
        for request in announcements {
            self.request(Request::AddTrack(request)).await;
        }
        tracing::info!(sid = %self.local_sid, tracks = self.published.len(), "rejoined");
        Ok(())
    }
    /// Sends every transport's pending datagrams and handles its events.
    async fn flush_output(&mut self) {
        for role in [Role::Publisher, Role::Subscriber] {
            loop {
                let link = match role {
                    Role::Publisher => &mut self.publisher,
                    Role::Subscriber => &mut self.subscriber,
                };
                match link.transport.poll() {
                    Ok(Poll::Wait(at)) => {
                        link.wake_at = at;
                        break;
                    }
                    Ok(Poll::Transmit {
                        path: MediaPath::Udp,
                        destination,
                        contents,
                    }) => {
                        if let Err(error) = link.socket.send_to(&contents, destination).await {
                            tracing::debug!(%error, %destination, "datagram not sent");
                        }
                    }
                    Ok(Poll::Transmit {
                        path: MediaPath::Tcp,
                        destination,
                        contents,
                    }) => link.tcp.send(destination, contents),
                    Ok(Poll::Event(event)) => self.on_transport_event(role, event).await,
                    Err(error) => {
                        tracing::warn!(%error, ?role, "transport poll");
                        link.wake_at = Instant::now() + std::time::Duration::from_millis(10);
                        break;
                    }
                }
            }
        }
    }

    async fn on_transport_event(&mut self, role: Role, event: TransportEvent) {
        match event {
            TransportEvent::Connected => tracing::debug!(?role, "transport connected"),
            TransportEvent::Failed => tracing::warn!(?role, "transport failed"),
            TransportEvent::ChannelOpen(label) => {
                tracing::debug!(?role, label, "data channel open");
                if role == Role::Publisher {
                    self.send_queued_data();
                }
            }
            TransportEvent::ChannelData(bytes) => match proto::DataPacket::decode(bytes.as_slice())
            {
                Ok(packet) => self.on_data_packet(packet).await,
                Err(error) => tracing::debug!(%error, "undecodable data packet dropped"),
            },
            TransportEvent::MediaAdded {
                mid,
                track_id,
                kind,
            } if role == Role::Subscriber => {
                let track_sid = self
                    .offered_tracks
                    .get(&mid.to_string())
                    .cloned()
                    .unwrap_or(track_id);
                let subscription = self.subscription_for(&track_sid, track_kind_of(kind));
                self.subscribed.insert(mid, subscription);
                self.announce_subscriptions().await;
            }
            TransportEvent::MediaAdded { .. } => {}
            TransportEvent::Media(data) => {
                if self.revives(data.mid) {
                    self.reassign_transceivers().await;
                }
                self.on_remote_media(*data);
            }
            TransportEvent::KeyframeRequest { mid, rid, full } => {
                tracing::debug!(%mid, ?rid, full, "keyframe requested");
                if let Some(track) = self.published.iter().find(|t| t.mid == Some(mid)) {
                    track.feedback.send_modify(|f| f.keyframe_requests += 1);
                }
            }
            TransportEvent::Path(path) => {
                tracing::info!(?role, path = path.as_str(), "media path");
                self.emit(RoomEvent::MediaPath { role, path }).await;
            }
            TransportEvent::Bitrate(bitrate) => {
                let bps = bitrate.as_u64();
                for track in &self.published {
                    if matches!(track.options.kind, TrackOptionsKind::Video { .. }) {
                        track
                            .feedback
                            .send_if_modified(|f| replace(&mut f.available_bitrate_bps, bps));
                    }
                }
            }
        }
    }

    async fn on_data_packet(&mut self, packet: proto::DataPacket) {
        use proto::data_packet::Value;
        if packet.sequence != 0 {
            // Reliable packets carry their sender's sequence; a sender that resumed may send
            // some twice.
            match self.received_sequences.get_mut(&packet.participant_sid) {
                Some(last) if packet.sequence <= *last => {
                    tracing::debug!(sequence = packet.sequence, "duplicate data packet dropped");
                    return;
                }
                Some(last) => *last = packet.sequence,
                None => {
                    self.received_sequences
                        .insert(packet.participant_sid.clone(), packet.sequence);
                }
            }
        }
        let from = packet.participant_identity.clone();
        let private = !packet.destination_identities.is_empty();
        let event = match packet.value {
            Some(value @ (Value::RpcRequest(_) | Value::RpcAck(_) | Value::RpcResponse(_))) => {
                self.on_rpc_packet(&from, value);
                None
            }
            Some(Value::StreamHeader(header)) => {
                self.incoming_streams.on_header(&from, private, header)
            }
            Some(Value::StreamChunk(chunk)) => {
                self.incoming_streams.on_chunk(&from, chunk);
                None
            }
            Some(Value::StreamTrailer(trailer)) => self.incoming_streams.on_trailer(&from, trailer),
            _ => data::interpret(packet),
        };
        if let Some(event) = event {
            self.emit(event).await;
        }
    }

    /// Media on a transceiver whose subscription ended, for a published track we want again:
    /// a server may resubscribe us on the transceiver it kept without a new offer
    /// (livekit-server sometimes does; other times it offers a new one).
    fn revives(&self, mid: Mid) -> bool {
        let Some(track) = self.subscribed.get(&mid) else {
            return false;
        };
        if track.frames.is_some() {
            return false;
        }
        let Some(track_sid) = self.offered_tracks.get(&mid.to_string()) else {
            return false;
        };
        // Late frames of a transceiver the track left (e.g. the server's blank frames) do not
        // take the subscription from the one it moved to.
        let live_elsewhere = self
            .subscribed
            .values()
            .any(|other| other.is_live_for(track_sid));
        !live_elsewhere
            && !self.declined.contains(track_sid)
            && self.participants.track(track_sid).is_some()
    }

    fn on_remote_media(&mut self, data: str0m::media::MediaData) {
        let Some(track) = self.subscribed.get_mut(&data.mid) else {
            return;
        };
        let Some(frames) = &track.frames else {
            return;
        };
        let frame = RemoteFrame {
            codec: data.params.spec().codec.into(),
            data: data.data,
            rtp_time: data.time.numer(),
            received_at: data.network_time,
            contiguous: data.contiguous,
            layer: data.rid.and_then(|rid| layer_of_rid(&rid)),
        };
        match frames.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                track.dropped += 1;
                if track.dropped.is_power_of_two() {
                    tracing::debug!(track = %track.track_sid, dropped = track.dropped, "reader behind, frames dropped");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                track.frames = None;
                let track_sid = track.track_sid.clone();
                self.decline_dropped(track_sid);
            }
        }
    }

    /// The user dropped a [`RemoteTrack`] (e.g. audio on a machine with no speaker): the
    /// track is declined as if unsubscribed, so its next packet does not revive it (a new
    /// `TrackSubscribed` for every packet) and the server is asked to stop sending it.
    fn decline_dropped(&mut self, track_sid: String) {
        tracing::debug!(track = %track_sid, "remote track dropped by its user: unsubscribing");
        self.declined.insert(track_sid.clone());
        let unsubscribe = Command::Subscribe {
            track_sid,
            subscribe: false,
        };
        if let Err(error) = self.command_sender.try_send(unsubscribe) {
            tracing::debug!(%error, "could not unsubscribe a dropped track: its packets are ignored");
        }
    }

    /// Hands subscribed tracks to the user once the room has announced who published them.
    async fn announce_subscriptions(&mut self) {
        let mut ready = Vec::new();
        for track in self.subscribed.values_mut() {
            if track.receiver.is_none() {
                continue;
            }
            if let Some((identity, info)) = self.participants.track(&track.track_sid)
                && let Some(receiver) = track.receiver.take()
            {
                ready.push(RoomEvent::TrackSubscribed {
                    identity: identity.to_owned(),
                    info: info.clone(),
                    track: RemoteTrack {
                        sid: track.track_sid.clone(),
                        kind: track.kind,
                        frames: receiver,
                        commands: self.command_sender.clone(),
                    },
                });
            }
        }
        for event in ready {
            self.emit(event).await;
        }
    }

    async fn on_signal(&mut self, event: SignalEvent) -> Option<DisconnectReason> {
        let message = match event {
            SignalEvent::Message(message) => *message,
            SignalEvent::Closed(closed) => return self.on_signal_closed(closed).await,
        };
        match message {
            Response::Offer(_) if self.single_peer_connection() => {
                tracing::warn!("the server offered on a single peer connection; ignored");
            }
            Response::Offer(offer) => {
                self.offered_tracks = offer.mid_to_track_id.clone();
                match self
                    .subscriber
                    .transport
                    .accept_offer(Instant::now(), &offer.sdp)
                {
                    Ok(sdp) => {
                        let answer = Request::Answer(proto::SessionDescription {
                            r#type: "answer".into(),
                            sdp,
                            id: offer.id,
                            ..Default::default()
                        });
                        self.request(answer).await;
                        self.reassign_transceivers().await;
                    }
                    Err(error) => tracing::warn!(%error, "subscriber offer refused"),
                }
            }
            Response::Answer(answer) => {
                match self
                    .publisher
                    .transport
                    .accept_answer(Instant::now(), &answer.sdp)
                {
                    // Encoders learn the accepted codec before their first frame.
                    Ok(()) => {
                        for track in &mut self.published {
                            track.settle_payload_type(&mut self.publisher.transport);
                        }
                        if self.single_peer_connection() {
                            self.offered_tracks = answer.mid_to_track_id;
                            self.adopt_answered_tracks().await;
                        }
                    }
                    Err(error) => tracing::warn!(%error, "publisher answer refused"),
                }
            }
            Response::MediaSectionsRequirement(required) if self.single_peer_connection() => {
                tracing::debug!(
                    audios = required.num_audios,
                    videos = required.num_videos,
                    "the server needs media sections"
                );
                self.receive_sections
                    .require(required.num_audios, required.num_videos);
                // Even a requirement of nothing asks for an offer.
                self.publisher_needs_offer = true;
            }
            Response::Trickle(trickle) => self.on_trickle(&trickle),
            Response::RefreshToken(token) => self.dial.token = token,
            Response::Update(update) => {
                for info in &update.participants {
                    self.on_participant(info).await;
                }
                self.announce_subscriptions().await;
            }
            Response::TrackPublished(published) => self.on_track_published(published),
            Response::SpeakersChanged(changed) => {
                let mut speakers: Vec<Speaker> = changed
                    .speakers
                    .iter()
                    .filter(|s| s.active)
                    .filter_map(|s| {
                        Some(Speaker {
                            identity: self.identity_of(&s.sid)?,
                            level: s.level,
                        })
                    })
                    .collect();
                speakers.sort_by(|a, b| b.level.total_cmp(&a.level));
                self.emit(RoomEvent::ActiveSpeakers(speakers)).await;
            }
            Response::ConnectionQuality(update) => {
                for info in update.updates {
                    if let Some(identity) = self.identity_of(&info.participant_sid) {
                        let quality = ConnectionQuality::from(info.quality());
                        self.emit(RoomEvent::ConnectionQuality { identity, quality })
                            .await;
                    }
                }
            }
            Response::RoomUpdate(update) => {
                if let Some(room) = update.room {
                    self.emit(RoomEvent::RoomMetadata(room.metadata)).await;
                }
            }
            Response::Mute(mute) => {
                if let Some(track) = self.published.iter_mut().find(|t| t.sid == mute.sid)
                    && track.set_muted(mute.muted)
                {
                    self.emit(RoomEvent::LocalTrackMuted {
                        track_sid: mute.sid,
                        muted: mute.muted,
                    })
                    .await;
                }
            }
            Response::SubscribedQualityUpdate(update) => self.on_quality_update(&update),
            other => tracing::trace!(?other, "signal message not handled"),
        }
        None
    }

    /// The identity of participant `sid`, ourselves included.
    fn identity_of(&self, sid: &str) -> Option<String> {
        if sid == self.local_sid {
            return Some(self.local_identity.clone());
        }
        self.participants.identity_of(sid).map(str::to_owned)
    }

    fn on_trickle(&mut self, trickle: &proto::TrickleRequest) {
        #[derive(serde::Deserialize)]
        struct CandidateInit {
            candidate: String,
        }
        let Ok(init) = serde_json::from_str::<CandidateInit>(&trickle.candidate_init) else {
            tracing::debug!("unparsable trickled candidate");
            return;
        };
        if init.candidate.is_empty() {
            return;
        }
        let link = if trickle.target() == proto::SignalTarget::Publisher {
            &mut self.publisher
        } else {
            &mut self.subscriber
        };
        if let Err(error) = link
            .transport
            .add_remote_candidate(Instant::now(), &init.candidate)
        {
            tracing::debug!(%error, "trickled candidate ignored");
        }
    }

    async fn on_participant(&mut self, info: &proto::ParticipantInfo) {
        if info.sid == self.local_sid {
            self.apply_local_permissions(info).await;
            return;
        }
        for event in self.participants.apply(info) {
            self.emit_participant_event(event).await;
        }
    }

    /// Our own permissions as the server states them; a change is an event.
    async fn apply_local_permissions(&mut self, local: &proto::ParticipantInfo) {
        let permissions = local
            .permission
            .as_ref()
            .map(Permissions::from)
            .unwrap_or_default();
        if permissions != self.permissions {
            self.permissions = permissions;
            self.emit(RoomEvent::PermissionsChanged(permissions)).await;
        }
    }

    /// Acknowledges and answers incoming calls; routes acks and answers to our calls.
    fn on_rpc_packet(&mut self, from: &str, value: proto::data_packet::Value) {
        if let Some(rpc::IncomingCall {
            ack,
            invocation,
            handler,
        }) = self.rpc.on_packet(from, value)
        {
            self.enqueue_packet(ack, true, None);
            tokio::spawn(rpc::answer(
                self.command_sender.clone(),
                invocation,
                handler,
            ));
        }
    }

    /// Emits a participant event; a departure also ends the streams that sender left open
    /// and the calls waiting for its answer.
    async fn emit_participant_event(&mut self, event: RoomEvent) {
        let unpublished = match &event {
            RoomEvent::ParticipantLeft { identity } => {
                self.incoming_streams.sender_left(identity);
                self.rpc.participant_left(identity);
                None
            }
            RoomEvent::TrackUnpublished {
                identity,
                track_sid,
            } => Some((identity.clone(), track_sid.clone())),
            _ => None,
        };
        self.emit(event).await;
        if let Some((identity, track_sid)) = unpublished {
            self.end_subscription(&identity, &track_sid).await;
        }
    }

    /// Ends our subscription to `track_sid` (unsubscribed, unpublished, or its publisher
    /// left): its `RemoteTrack` sees the end of its frames and, if it was announced, the user
    /// gets `TrackUnsubscribed`. The transceiver stays, for the server to reuse.
    async fn end_subscription(&mut self, identity: &str, track_sid: &str) {
        let mut announced = false;
        for track in self.subscribed.values_mut() {
            if track.track_sid == track_sid && track.frames.take().is_some() {
                announced |= track.receiver.take().is_none();
            }
        }
        if announced {
            self.emit(RoomEvent::TrackUnsubscribed {
                identity: identity.to_owned(),
                track_sid: track_sid.to_owned(),
            })
            .await;
        }
    }

    /// The identity of the participant publishing `track_sid`, as far as we know it.
    fn publisher_of(&self, track_sid: &str) -> String {
        self.participants
            .track(track_sid)
            .map(|(identity, _)| identity.to_owned())
            .unwrap_or_default()
    }

    /// A subscriber offer may hand a transceiver we already have to another track, or back to
    /// one whose subscription ended (servers reuse transceivers): that mid starts a new
    /// subscription. New transceivers come as `MediaAdded`.
    async fn reassign_transceivers(&mut self) {
        let mut starting = Vec::new();
        for (mid, track) in &self.subscribed {
            let Some(track_sid) = self.offered_tracks.get(&mid.to_string()) else {
                continue;
            };
            if track.is_live_for(track_sid)
                || self.declined.contains(track_sid)
                || !self.receiving().transport.receives(*mid)
            {
                continue;
            }
            starting.push((*mid, track_sid.clone()));
        }
        let mut ended = Vec::new();
        for (mid, track_sid) in starting {
            let Some(previous) = self.subscribed.remove(&mid) else {
                continue;
            };
            if previous.frames.is_some() {
                ended.push(previous.track_sid);
            }
            let subscription = self.subscription_for(&track_sid, previous.kind);
            self.subscribed.insert(mid, subscription);
        }
        for track_sid in ended {
            let identity = self.publisher_of(&track_sid);
            self.emit(RoomEvent::TrackUnsubscribed {
                identity,
                track_sid,
            })
            .await;
        }
        self.announce_subscriptions().await;
    }

    /// The subscription a transceiver that now carries `track_sid` feeds: the one the track
    /// already has on another transceiver, moved over (a server may move a track between
    /// transceivers, e.g. when it resubscribes us; the user keeps one `RemoteTrack`), else a
    /// new one, announced once the track's publisher is known.
    fn subscription_for(&mut self, track_sid: &str, kind: TrackKind) -> Subscribed {
        let moved = self
            .subscribed
            .values_mut()
            .find(|other| other.is_live_for(track_sid));
        if let Some(other) = moved {
            return Subscribed {
                track_sid: track_sid.to_owned(),
                kind,
                frames: other.frames.take(),
                receiver: other.receiver.take(),
                dropped: 0,
            };
        }
        let (frames, receiver) = mpsc::channel(REMOTE_FRAME_QUEUE);
        Subscribed {
            track_sid: track_sid.to_owned(),
            kind,
            frames: Some(frames),
            receiver: Some(receiver),
            dropped: 0,
        }
    }

    /// The signalling connection ended. A leave that allows reconnecting, or a lost
    /// connection, starts a recovery; anything else ends the room.
    async fn on_signal_closed(&mut self, closed: SignalClosed) -> Option<DisconnectReason> {
        self.signal = None;
        self.signal_events = None;
        if self.leaving.is_some() {
            return Some(DisconnectReason::ClientInitiated);
        }
        let step = match &closed {
            SignalClosed::Lost(_) | SignalClosed::PingTimeout => Step::Resume,
            SignalClosed::Left { action, .. } => match action {
                proto::leave_request::Action::Resume => Step::Resume,
                proto::leave_request::Action::Reconnect => Step::Rejoin,
                proto::leave_request::Action::Disconnect => {
                    return Some(disconnect_reason(closed));
                }
            },
            SignalClosed::ProtocolError(_) | SignalClosed::ClosedByClient => {
                return Some(disconnect_reason(closed));
            }
        };
        let why = format!("{:?}", disconnect_reason(closed));
        self.start_recovery(step, &why).await
    }

    fn on_track_published(&mut self, response: proto::TrackPublishedResponse) {
        if let Some(track) = self.published.iter_mut().find(|t| t.cid == response.cid) {
            // Published again after a rejoin: a new sid, negotiated anew.
            if let Some(info) = response.track {
                track.sid = info.sid.clone();
                track.sid_watch.send_replace(info.sid);
                track.confirmed = true;
                self.publisher_needs_offer = true;
            }
            return;
        }
        let Some((options, reply)) = self.awaiting_publish.remove(&response.cid) else {
            tracing::debug!(cid = %response.cid, "unexpected TrackPublished");
            return;
        };
        let Some(info) = response.track else {
            let _ = reply.send(Err(RoomError::PublishRefused(
                "the server sent no track".into(),
            )));
            return;
        };
        let (feedback, feedback_receiver) = watch::channel(PublisherFeedback {
            muted: options.muted,
            ..PublisherFeedback::default()
        });
        let (sid_watch, sid) = watch::channel(info.sid.clone());
        let kind = options.kind();
        let track = Published {
            sid: info.sid,
            sid_watch,
            cid: response.cid.clone(),
            muted: options.muted,
            options,
            mid: None,
            pt: None,
            confirmed: true,
            feedback,
        };
        self.published.push(track);
        self.publisher_needs_offer = true;
        let _ = reply.send(Ok(LocalTrack {
            sid,
            cid: response.cid,
            kind,
            frames: self.frame_sender.clone(),
            commands: self.command_sender.clone(),
            feedback: feedback_receiver,
        }));
    }

    fn on_quality_update(&mut self, update: &proto::SubscribedQualityUpdate) {
        let Some(track) = self.published.iter().find(|t| t.sid == update.track_sid) else {
            return;
        };
        let active = publication::active_layers(update);
        tracing::debug!(track = %track.sid, ?active, "subscribed layers");
        track
            .feedback
            .send_if_modified(|f| replace(&mut f.active_layers, active));
    }

    /// What [`ReceiveSections::add_to`] needs to know of each section it added.
    fn receive_section_states(&self) -> Vec<SectionState> {
        let transport = &self.publisher.transport;
        self.receive_sections
            .mids()
            .map(|mid| SectionState {
                mid,
                receiving: transport.receives(mid),
                mapped: self.offered_tracks.contains_key(&mid.to_string()),
            })
            .collect()
    }

    /// On one peer connection the server's answer says which of our receive-only sections
    /// carry which track: a newly mapped section starts a subscription, a remapped one moves
    /// to its new track.
    async fn adopt_answered_tracks(&mut self) {
        let transport = &self.publisher.transport;
        let mut adopted = Vec::new();
        for (mid, track_sid) in &self.offered_tracks {
            let mid = Mid::from(mid.as_str());
            if self.subscribed.contains_key(&mid)
                || self.declined.contains(track_sid)
                || !transport.receives(mid)
            {
                continue;
            }
            let Some(kind) = transport.media_kind(mid) else {
                continue;
            };
            adopted.push((mid, track_sid.clone(), track_kind_of(kind)));
        }
        for (mid, track_sid, kind) in adopted {
            let subscription = self.subscription_for(&track_sid, kind);
            self.subscribed.insert(mid, subscription);
        }
        self.reassign_transceivers().await;
    }

    /// Offers what the publisher transport still lacks: LiveKit's data channels, new tracks
    /// and, on one peer connection, the receive-only sections the server asked for.
    async fn negotiate_publisher(&mut self) {
        if !self.publisher_needs_offer
            || self.publisher.transport.awaits_answer()
            || self.signal.is_none()
        {
            return;
        }
        self.publisher_needs_offer = false;
        let add_channels = !self.publisher_has_channels;
        let ice_restart = std::mem::take(&mut self.publisher_ice_restart);
        let mut desired_bps = 0;
        let mut new_mids = Vec::new();
        let receive_states = self
            .single_peer_connection()
            .then(|| self.receive_section_states());
        let receive_sections = &mut self.receive_sections;
        let retired = std::mem::take(&mut self.retired_mids);
        let offer = self.publisher.transport.create_offer(|api| {
            if add_channels {
                PeerTransport::add_data_channels(api);
            }
            for mid in &retired {
                api.set_direction(*mid, Direction::Inactive);
            }
            if ice_restart {
                api.ice_restart(true);
            }
            if let Some(states) = &receive_states {
                receive_sections.add_to(api, states);
            }
            for (index, track) in self.published.iter().enumerate() {
                desired_bps += track.max_bitrate_bps();
                if track.mid.is_some() || !track.confirmed {
                    continue;
                }
                let kind = match track.options.kind() {
                    TrackKind::Audio => MediaKind::Audio,
                    TrackKind::Video => MediaKind::Video,
                };
                let mid = api.add_media(
                    kind,
                    Direction::SendOnly,
                    Some(self.local_sid.clone()),
                    Some(track.cid.clone()),
                    track.simulcast(),
                );
                new_mids.push((index, mid));
            }
        });
        let sdp = match offer {
            Ok(Some(sdp)) => sdp,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "publisher offer");
                return;
            }
        };
        self.publisher_has_channels = true;
        for (index, mid) in new_mids {
            if let Some(track) = self.published.get_mut(index) {
                track.mid = Some(mid);
            }
        }
        self.publisher
            .transport
            .set_desired_bitrate(Bitrate::bps(desired_bps));
        let id = self.next_offer_id;
        self.next_offer_id += 1;
        let offer = Request::Offer(proto::SessionDescription {
            r#type: "offer".into(),
            sdp,
            id,
            ..Default::default()
        });
        self.request(offer).await;
    }

    /// Sends `request` to the server. While signalling is down it waits for the resume
    /// (a closed connection is noticed through its `Closed` event).
    async fn request(&mut self, request: Request) {
        let Some(signal) = &self.signal else {
            self.deferred_requests.push(request);
            return;
        };
        if let Err(error) = signal.send(request).await {
            tracing::debug!(%error, "request not sent; signalling is closing");
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { options, reply } => self.publish(options, reply).await,
            Command::Unpublish { cid } => self.unpublish(&cid),
            Command::SetMuted { cid, muted } => {
                let Some(track) = self.published.iter_mut().find(|t| t.cid == cid) else {
                    return;
                };
                if !track.set_muted(muted) {
                    return;
                }
                let request = Request::Mute(proto::MuteTrackRequest {
                    sid: track.sid.clone(),
                    muted,
                });
                self.request(request).await;
            }
            Command::PublishData {
                packet,
                reliable,
                reply,
            } => {
                if !self.permissions.can_publish_data {
                    let _ = reply.send(Err(RoomError::NotAllowed("publish data")));
                    return;
                }
                self.enqueue_packet(*packet, reliable, Some(reply));
            }
            Command::PerformRpc {
                id,
                destination,
                packet,
                events,
            } => {
                self.rpc.start_call(id.clone(), destination, events);
                if !self.permissions.can_publish_data {
                    let error = rpc::send_failure(&RoomError::NotAllowed("publish data"));
                    self.rpc.fail_call(&id, error);
                    return;
                }
                self.enqueue_packet(*packet, true, None);
            }
            Command::RegisterRpc { method, handler } => self.rpc.register(method, handler),
            Command::Subscribe {
                track_sid,
                subscribe,
            } => {
                let request = Request::Subscription(proto::UpdateSubscription {
                    track_sids: vec![track_sid.clone()],
                    subscribe,
                    participant_tracks: Vec::new(),
                });
                self.request(request).await;
                if subscribe {
                    // The track comes back with the server's next offer, or as media on the
                    // transceiver it kept ([`Engine::revives`]).
                    self.declined.remove(&track_sid);
                } else {
                    self.declined.insert(track_sid.clone());
                    let identity = self.publisher_of(&track_sid);
                    self.end_subscription(&identity, &track_sid).await;
                }
            }
            Command::UpdateProfile(update) => {
                self.request(Request::UpdateMetadata(update)).await;
            }
            Command::TrackSettings {
                track_sid,
                settings,
            } => {
                let request = Request::TrackSetting(settings.to_request(track_sid));
                self.request(request).await;
            }
            Command::RequestKeyframe { track_sid } => {
                let mid = self
                    .subscribed
                    .iter()
                    .find(|(_, t)| t.track_sid == track_sid)
                    .map(|(mid, _)| *mid);
                if let Some(mid) = mid {
                    self.receiving_mut().transport.request_keyframe(mid);
                }
            }
            Command::Leave { reply } => {
                // Data already handed to us (the end of a file, a last chat line) goes out
                // before the leave, within a bound.
                self.leaving = Some((reply, Instant::now() + LEAVE_DRAIN_LIMIT));
            }
        }
    }

    /// Once leaving, leaves as soon as every queued data packet has been acknowledged (or the
    /// drain limit passed).
    async fn leave_when_drained(&mut self) -> Option<DisconnectReason> {
        let (_, limit) = self.leaving.as_ref()?;
        // Nothing drains while the connection is down.
        let drained = self.recovery.is_none()
            && self.queued_data.is_empty()
            && [RELIABLE_LABEL, LOSSY_LABEL]
                .into_iter()
                .all(|label| self.publisher.transport.buffered(label) == 0);
        if !drained && Instant::now() < *limit {
            return None;
        }
        if !drained {
            tracing::warn!("left with data still unacknowledged");
        }
        if let Some(signal) = &self.signal {
            let _ = signal.leave().await;
        }
        if let Some((reply, _)) = self.leaving.take() {
            let _ = reply.send(());
        }
        Some(DisconnectReason::ClientInitiated)
    }

    async fn publish(
        &mut self,
        options: TrackOptions,
        reply: oneshot::Sender<Result<LocalTrack, RoomError>>,
    ) {
        if !self.permissions.can_publish {
            let _ = reply.send(Err(RoomError::NotAllowed("publish")));
            return;
        }
        self.next_cid += 1;
        let cid = format!("{}-{}", options.name, self.next_cid);
        let request = publication::add_track_request(&cid, &options);
        self.request(Request::AddTrack(request)).await;
        self.awaiting_publish.insert(cid, (options, reply));
    }

    /// Stops publishing the track `cid`: its frames are dropped from now on, and its section
    /// goes inactive in the next offer (which is how LiveKit servers learn of it).
    fn unpublish(&mut self, cid: &str) {
        self.awaiting_publish.remove(cid);
        let Some(index) = self.published.iter().position(|t| t.cid == cid) else {
            return;
        };
        let track = self.published.remove(index);
        tracing::info!(sid = %track.sid, "unpublishing");
        if let Some(mid) = track.mid {
            self.retired_mids.push(mid);
            self.publisher_needs_offer = true;
        }
    }

    /// Stamps `packet` as ours (sender, and a sequence number when reliable) and queues it;
    /// `written` is told once SCTP has taken it (or why it never will).
    fn enqueue_packet(
        &mut self,
        mut packet: proto::DataPacket,
        reliable: bool,
        written: Option<oneshot::Sender<Result<(), RoomError>>>,
    ) {
        if self.queued_data.len() >= MAX_QUEUED_PACKETS {
            if let Some(written) = written {
                let _ = written.send(Err(RoomError::Busy));
            }
            return;
        }
        let sequence = reliable.then(|| {
            // 0 means "no sequence" to receivers: skip it when wrapping.
            self.data_sequence = self.data_sequence.checked_add(1).unwrap_or(1);
            self.data_sequence
        });
        packet.sequence = sequence.unwrap_or(0);
        packet.participant_identity = self.local_identity.clone();
        packet.participant_sid = self.local_sid.clone();
        let label = if reliable {
            RELIABLE_LABEL
        } else {
            LOSSY_LABEL
        };
        let bytes = packet.encode_to_vec();
        if !self.publisher_has_channels {
            self.publisher_needs_offer = true;
        }
        // Written at the top of the engine's next round, with everything else queued.
        self.queued_data.push_back(QueuedPacket {
            label,
            sequence,
            bytes,
            written,
        });
    }

    /// Writes queued packets in order while their channel is open and has room.
    fn send_queued_data(&mut self) {
        while let Some(packet) = self.queued_data.front_mut() {
            if !self.publisher.transport.channel_open(packet.label) {
                return;
            }
            let result = match self
                .publisher
                .transport
                .send_data(packet.label, &packet.bytes)
            {
                Ok(true) => {
                    tracing::trace!(label = packet.label, sequence = ?packet.sequence, "data written");
                    Ok(())
                }
                Ok(false) => return,
                Err(error) => {
                    tracing::debug!(%error, "data packet dropped");
                    Err(RoomError::Transport(error))
                }
            };
            let succeeded = result.is_ok();
            if let Some(written) = packet.written.take() {
                let _ = written.send(result);
            }
            if let Some(packet) = self.queued_data.pop_front()
                && let Some(sequence) = packet.sequence
                && succeeded
            {
                self.sent_reliable.push(sequence, packet.bytes);
            }
        }
    }

    fn on_frame(&mut self, cid: &str, frame: EncodedFrame) {
        let Some(track) = self.published.iter_mut().find(|t| t.cid == cid) else {
            return;
        };
        if track.muted || !self.publisher.transport.is_connected() {
            return;
        }
        let Some(mid) = track.mid else {
            return;
        };
        let Some(pt) = track.settle_payload_type(&mut self.publisher.transport) else {
            return;
        };
        let outgoing = track.outgoing(&frame);
        if let Err(error) = self.publisher.transport.write_media(mid, pt, outgoing) {
            tracing::debug!(%error, "frame not sent");
        }
    }

    async fn emit(&mut self, event: RoomEvent) {
        // A user who stopped reading must not stall the media path forever: the channel is
        // large, and a closed one just means nobody listens.
        let _ = self.events.send(event).await;
    }
}

/// The next signal event; never resolves while signalling is down.
async fn next_signal_event(events: &mut Option<mpsc::Receiver<SignalEvent>>) -> SignalEvent {
    let Some(receiver) = events else {
        return std::future::pending().await;
    };
    receiver
        .recv()
        .await
        .unwrap_or_else(|| SignalEvent::Closed(SignalClosed::Lost("signalling task ended".into())))
}

/// The running reconnect attempt's result; never resolves while none runs.
async fn recovery_outcome(
    recovery: &mut Option<Recovery>,
) -> Result<Reconnected, recovery::AttemptError> {
    match recovery {
        Some(recovery) => recovery.outcome().await,
        None => std::future::pending().await,
    }
}

fn receive(link: &mut Link, path: MediaPath, source: SocketAddr, contents: &[u8]) {
    if let Err(error) = link
        .transport
        .receive(Instant::now(), path, source, contents)
    {
        let (local, path) = (link.transport.local(), path.as_str());
        tracing::trace!(%error, %source, %local, path, "datagram ignored");
    }
}

fn layer_of_rid(rid: &Rid) -> Option<Layer> {
    Layer::ALL.into_iter().find(|layer| **rid == *layer.rid())
}

fn disconnect_reason(closed: SignalClosed) -> DisconnectReason {
    match closed {
        SignalClosed::Left { reason, .. } => DisconnectReason::Server(reason),
        SignalClosed::Lost(why) => DisconnectReason::ConnectionLost(why),
        SignalClosed::PingTimeout => {
            DisconnectReason::ConnectionLost("the server stopped answering pings".into())
        }
        SignalClosed::ProtocolError(why) => DisconnectReason::ProtocolError(why),
        SignalClosed::ClosedByClient => DisconnectReason::ClientInitiated,
    }
}

/// Sets `slot` to `value`; whether that changed it (for `watch::Sender::send_if_modified`).
fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        return false;
    }
    *slot = value;
    true
}

/// The kind of track a media section carries.
fn track_kind_of(kind: MediaKind) -> TrackKind {
    match kind {
        MediaKind::Audio => TrackKind::Audio,
        MediaKind::Video => TrackKind::Video,
    }
}
