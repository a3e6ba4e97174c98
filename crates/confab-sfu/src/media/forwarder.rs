//! The media plane of every room, sans-IO: each participant's publisher and subscriber peer
//! connections, which tracks each subscriber receives, and the routing of media frames, keyframe
//! requests and data packets between them.
//!
//! Time and datagrams are inputs; datagrams to send and [`MediaEvent`]s for the signalling
//! layer are outputs (`take_datagrams`, `take_events`).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use proto::signal_response::Message as Response;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input};

use super::codec_preference;
use super::dynacast::{self, Dynacast};
use super::layers::{LayerSelector, Verdict};
use super::quality::QualityMonitor;
use super::speakers::SpeakerDetector;
use super::transport::{Datagram, Side, Transport};
use crate::data::{self, Lane, Routed};

/// Reliable data waiting for a slow receiver before it counts as gone.
const MAX_DATA_BACKLOG_BYTES: usize = 64 << 20;
/// A data channel asks for more once its buffer drains below this.
const DATA_LOW_WATER_BYTES: usize = 1 << 20;
/// At most one keyframe request per track layer in this interval (a new subscriber, a layer
/// switch and a decoder error often ask at once).
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);

/// What the media plane needs to know about a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProfile {
    pub room: String,
    pub identity: String,
    pub hidden: bool,
    pub can_subscribe: bool,
    pub can_publish_data: bool,
    /// Waiting in the lobby ([`crate::room::is_in_lobby`]): receives nobody's data, speakers
    /// or connection quality.
    pub in_lobby: bool,
}

impl PeerProfile {
    pub fn new(room: &str, identity: &str, permission: &proto::ParticipantPermission) -> Self {
        Self {
            room: room.to_owned(),
            identity: identity.to_owned(),
            hidden: permission.hidden,
            can_subscribe: permission.can_subscribe,
            can_publish_data: permission.can_publish_data,
            in_lobby: crate::room::permits_nothing(permission),
        }
    }
}

/// Something the signalling layer must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A message for a participant's signalling connection.
    Signal { to: String, message: Box<Response> },
    /// Media from `participant` appeared on `mid` for its client track `cid`; the signalling
    /// layer binds it to an announced track and calls [`Forwarder::publish_track`].
    MediaArrived {
        participant: String,
        mid: String,
        cid: String,
        kind: proto::TrackType,
    },
    /// `participant`'s offer stopped sending the published track `track_sid` (its section
    /// became inactive: the client unpublished it); the signalling layer drops the
    /// publication and calls [`Forwarder::unpublish_track`].
    MediaEnded {
        participant: String,
        track_sid: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum NegotiationError {
    #[error("unreadable SDP: {0}")]
    Sdp(#[from] str0m::error::SdpError),
    #[error("the SDP was refused: {0}")]
    Rejected(#[from] str0m::RtcError),
}

#[derive(Debug)]
pub struct Forwarder {
    /// Where clients reach us (host candidates on the media sockets).
    candidates: Vec<SocketAddr>,
    peers: HashMap<String, Peer>,
    tracks: HashMap<String, Track>,
    /// Which peer connection a remote address belongs to, learned from accepted packets.
    routes: HashMap<SocketAddr, (String, Side)>,
    datagrams: Vec<Datagram>,
    events: Vec<MediaEvent>,
    speakers: SpeakerDetector,
    quality: QualityMonitor,
    /// The earliest deadline of the connections driven since [`Forwarder::take_deadline_hint`].
    deadline_hint: Option<Instant>,
}

#[derive(Debug)]
struct Peer {
    profile: PeerProfile,
    /// Subscribed to every track of the room as it appears (LiveKit's `auto_subscribe`);
    /// otherwise only to the tracks it asks for.
    auto_subscribe: bool,
    publisher: Option<Transport>,
    subscriber: Option<Subscriber>,
    /// Publisher mids bound to published tracks.
    published: HashMap<Mid, String>,
    last_reliable_sequence: u32,
    /// Reliable data the receiver's channel could not take yet, oldest first.
    data_backlog: VecDeque<Arc<[u8]>>,
    data_backlog_bytes: usize,
}

fn note_deadline(hint: &mut Option<Instant>, at: Instant) {
    *hint = Some(hint.map_or(at, |earlier| earlier.min(at)));
}

/// The server-offered peer connection that carries a participant's subscriptions.
#[derive(Debug)]
struct Subscriber {
    transport: Transport,
    next_offer_id: u32,
    /// The offer sent and not yet answered.
    pending: Option<(SdpPendingOffer, u32)>,
    /// Changes since the last offer that need a new one.
    dirty: bool,
    channels_added: bool,
    downtracks: HashMap<String, Downtrack>,
    /// Mids of removed downtracks, made inactive in the next offer.
    retired: Vec<Mid>,
    /// The inactive mid each unsubscribed track had: a later subscription to the same track
    /// revives it (the client sees the same transceiver send again) instead of adding one.
    parked: HashMap<String, Mid>,
    /// Parked mids to make send-only again in the next offer.
    revived: Vec<Mid>,
    /// The next offer restarts ICE (the client resumed after losing its network).
    restart_ice: bool,
}

/// Whether an unsubscribed downtrack's mid is kept for a later subscription to the same track
/// (which an unpublished track never gets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parking {
    Park,
    Forget,
}

#[derive(Debug)]
struct Downtrack {
    publisher: String,
    kind: MediaKind,
    /// Assigned when the downtrack enters an offer.
    mid: Option<Mid>,
    selector: LayerSelector,
}

#[derive(Debug)]
struct Track {
    publisher: String,
    room: String,
    mid: Mid,
    kind: MediaKind,
    layers: Vec<proto::VideoLayer>,
    /// The codec the publisher sends (`video/VP8`), named in dynacast updates.
    mime_type: String,
    /// Which of its simulcast layers anyone receives; `None` without simulcast.
    dynacast: Option<Dynacast>,
    subscribers: BTreeSet<String>,
    last_keyframe_request: HashMap<Option<Rid>, Instant>,
}

impl Forwarder {
    pub fn new(candidates: Vec<SocketAddr>) -> Self {
        Self {
            candidates,
            peers: HashMap::new(),
            tracks: HashMap::new(),
            routes: HashMap::new(),
            datagrams: Vec::new(),
            events: Vec::new(),
            speakers: SpeakerDetector::new(),
            quality: QualityMonitor::default(),
            deadline_hint: None,
        }
    }

    pub fn take_datagrams(&mut self) -> Vec<Datagram> {
        std::mem::take(&mut self.datagrams)
    }

    pub fn take_events(&mut self) -> Vec<MediaEvent> {
        std::mem::take(&mut self.events)
    }

    /// The earliest time any peer connection needs [`Forwarder::handle_timeout`].
    pub fn next_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|peer| {
                let subscriber = peer.subscriber.as_ref().map(|s| &s.transport);
                peer.publisher.iter().chain(subscriber)
            })
            .filter(|t| !t.failed)
            .map(|t| t.next_timeout)
            .chain(self.speakers.next_report())
            .chain(self.quality.next_report())
            .chain(
                self.tracks
                    .values()
                    .filter_map(|t| t.dynacast.as_ref()?.deadline()),
            )
            .min()
    }

    /// The earliest deadline among the connections driven and the reports scheduled since the
    /// last call: the hot path compares it with the timer's deadline instead of rescanning
    /// every connection ([`Forwarder::next_timeout`]) after each datagram.
    pub fn take_deadline_hint(&mut self) -> Option<Instant> {
        [
            self.deadline_hint.take(),
            self.speakers.next_report(),
            self.quality.next_report(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A participant joined: with subscribe permission it gets the subscriber offer at once
    /// (LiveKit clients wait for it before `connect` completes), carrying the data channels and
    /// every track already published in the room (none with `auto_subscribe` off: those come
    /// when asked for).
    pub fn add_peer(
        &mut self,
        now: Instant,
        sid: &str,
        profile: PeerProfile,
        auto_subscribe: bool,
    ) {
        let subscribe = profile.can_subscribe;
        self.peers.insert(
            sid.to_owned(),
            Peer {
                profile,
                auto_subscribe,
                publisher: None,
                subscriber: None,
                published: HashMap::new(),
                last_reliable_sequence: 0,
                data_backlog: VecDeque::new(),
                data_backlog_bytes: 0,
            },
        );
        if subscribe {
            self.start_subscribing(now, sid);
        }
    }

    /// Gives the participant a subscriber connection carrying every track of its room
    /// already published (none when it subscribes only on request), and offers it.
    fn start_subscribing(&mut self, now: Instant, sid: &str) {
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        let room = peer.profile.room.clone();
        let auto_subscribe = peer.auto_subscribe;
        if peer.subscriber.is_none() {
            peer.subscriber = Some(Subscriber {
                transport: Transport::new(now, &self.candidates),
                next_offer_id: 1,
                pending: None,
                dirty: true,
                channels_added: false,
                downtracks: HashMap::new(),
                retired: Vec::new(),
                parked: HashMap::new(),
                revived: Vec::new(),
                restart_ice: false,
            });
        }
        let existing: Vec<String> = self
            .tracks
            .iter()
            .filter(|(_, track)| auto_subscribe && track.room == room && track.publisher != sid)
            .map(|(track_sid, _)| track_sid.clone())
            .collect();
        for track_sid in existing {
            self.subscribe(now, sid, &track_sid);
        }
        self.negotiate(now, sid);
    }

    /// Whether a peer connection of the participant is up (a dropped signalling connection is
    /// then worth keeping the participant for a resume).
    pub fn is_connected(&self, sid: &str) -> bool {
        self.peers.get(sid).is_some_and(|peer| {
            let subscriber = peer.subscriber.as_ref().map(|s| &s.transport);
            peer.publisher
                .iter()
                .chain(subscriber)
                .any(|t| t.connected && t.is_alive())
        })
    }

    /// The last reliable data sequence received from the participant.
    pub fn last_reliable_sequence(&self, sid: &str) -> u32 {
        self.peers
            .get(sid)
            .map_or(0, |peer| peer.last_reliable_sequence)
    }

    /// The client resumed: a fresh subscriber offer that restarts ICE replaces any offer it
    /// may have missed. (Its publisher connection restarts with the client's own offer.)
    pub fn restart_ice(&mut self, now: Instant, sid: &str) {
        let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut()) else {
            return;
        };
        subscriber.pending = None;
        subscriber.restart_ice = true;
        subscriber.dirty = true;
        self.negotiate(now, sid);
    }

    /// New permissions or profile for a participant.
    /// A participant's permissions changed: one allowed to subscribe now gets the room's
    /// tracks (a guest admitted from the waiting room); one no longer allowed loses them.
    pub fn update_peer(&mut self, now: Instant, sid: &str, profile: PeerProfile) {
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        let could_subscribe = std::mem::replace(&mut peer.profile, profile).can_subscribe;
        let can_subscribe = peer.profile.can_subscribe;
        if can_subscribe && !could_subscribe {
            self.start_subscribing(now, sid);
        } else if could_subscribe && !can_subscribe {
            let watched: Vec<String> = peer
                .subscriber
                .as_ref()
                .map(|subscriber| subscriber.downtracks.keys().cloned().collect())
                .unwrap_or_default();
            for track_sid in watched {
                self.unsubscribe(now, sid, &track_sid, Parking::Forget);
            }
            self.negotiate(now, sid);
        }
    }

    /// Removes the peers `keep` rejects (participants that left the room, however they left).
    pub fn retain_peers(&mut self, now: Instant, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self
            .peers
            .keys()
            .filter(|sid| !keep(sid))
            .cloned()
            .collect();
        for sid in gone {
            self.remove_peer(now, &sid);
        }
    }

    /// A participant left: its connections close and its tracks leave every subscriber.
    pub fn remove_peer(&mut self, now: Instant, sid: &str) {
        let Some(mut peer) = self.peers.remove(sid) else {
            return;
        };
        self.speakers.forget(sid);
        self.quality.forget(sid);
        if let Some(publisher) = &mut peer.publisher {
            publisher.rtc.disconnect();
        }
        if let Some(subscriber) = &mut peer.subscriber {
            subscriber.transport.rtc.disconnect();
        }
        self.routes.retain(|_, (owner, _)| owner != sid);
        let watched: Vec<String> = self
            .tracks
            .iter_mut()
            .filter_map(|(track_sid, track)| {
                track.subscribers.remove(sid).then(|| track_sid.clone())
            })
            .collect();
        for track_sid in watched {
            self.refresh_dynacast(now, &track_sid);
        }
        for track_sid in peer.published.into_values() {
            self.unpublish_track(now, &track_sid);
        }
    }

    /// A track of `participant` on its publisher `mid` is published as `track`: every other
    /// participant of the room that may subscribe receives it.
    pub fn publish_track(
        &mut self,
        now: Instant,
        participant: &str,
        mid: &str,
        track: &proto::TrackInfo,
    ) {
        let Some(peer) = self.peers.get_mut(participant) else {
            return;
        };
        let mid = Mid::from(mid);
        peer.published.insert(mid, track.sid.clone());
        let kind = if track.r#type == proto::TrackType::Audio as i32 {
            MediaKind::Audio
        } else {
            MediaKind::Video
        };
        let room = peer.profile.room.clone();
        let layers = announced_layers(track);
        let simulcast = kind == MediaKind::Video && layers.len() > 1;
        self.tracks.insert(
            track.sid.clone(),
            Track {
                publisher: participant.to_owned(),
                room: room.clone(),
                mid,
                kind,
                layers,
                mime_type: track.mime_type.clone(),
                dynacast: simulcast.then(Dynacast::default),
                subscribers: BTreeSet::new(),
                last_keyframe_request: HashMap::new(),
            },
        );
        let audience: Vec<String> = self
            .peers_in(&room)
            .filter(|(sid, peer)| {
                sid.as_str() != participant && peer.subscriber.is_some() && peer.auto_subscribe
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        let unwatched = audience.is_empty();
        for sid in audience {
            self.subscribe(now, &sid, &track.sid);
            self.negotiate(now, &sid);
        }
        // Each subscription above told dynacast; with none, its clock towards "nobody
        // watches" starts here.
        if unwatched {
            self.refresh_dynacast(now, &track.sid);
        }
    }

    /// The track stops: every subscriber's downtrack becomes inactive.
    pub fn unpublish_track(&mut self, now: Instant, track_sid: &str) {
        let Some(track) = self.tracks.remove(track_sid) else {
            return;
        };
        if let Some(peer) = self.peers.get_mut(&track.publisher) {
            peer.published.retain(|_, sid| sid != track_sid);
        }
        for sid in track.subscribers {
            self.unsubscribe(now, &sid, track_sid, Parking::Forget);
            self.negotiate(now, &sid);
        }
    }

    /// Signalling requests that concern the peer connections.
    pub fn handle_request(
        &mut self,
        now: Instant,
        sid: &str,
        request: proto::signal_request::Message,
    ) -> Result<(), NegotiationError> {
        use proto::signal_request::Message as Request;
        match request {
            Request::Offer(offer) => {
                self.accept_publisher_offer(now, sid, &offer, &HashMap::new())?;
            }
            Request::Answer(answer) => self.accept_subscriber_answer(now, sid, &answer)?,
            Request::Trickle(trickle) => self.add_remote_candidate(now, sid, &trickle),
            Request::TrackSetting(settings) => self.apply_track_settings(now, sid, &settings),
            Request::Subscription(update) => self.update_subscription(now, sid, &update),
            _ => {}
        }
        Ok(())
    }

    /// One datagram that arrived on the media socket bound to `destination`. Returns false
    /// when no peer connection claims it (stray or hostile traffic, dropped).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, contents) else {
            return false;
        };
        let input = Input::Receive(now, receive);
        let Some((sid, side)) = self.route(source, &input) else {
            return false;
        };
        let Some(transport) = self.transport_mut(&sid, side) else {
            return false;
        };
        if let Err(error) = transport.rtc.handle_input(input) {
            tracing::debug!(participant = %sid, %error, "datagram refused");
        }
        self.drain_and_dispatch(now, &sid, side);
        true
    }

    /// Drives every peer connection whose timer is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<(String, Side)> = self
            .peers
            .iter()
            .flat_map(|(sid, peer)| {
                let publisher = peer
                    .publisher
                    .as_ref()
                    .map(|t| (Side::Publisher, t.next_timeout, t.failed));
                let subscriber = peer.subscriber.as_ref().map(|s| {
                    (
                        Side::Subscriber,
                        s.transport.next_timeout,
                        s.transport.failed,
                    )
                });
                publisher
                    .into_iter()
                    .chain(subscriber)
                    .filter(move |(_, at, failed)| !failed && *at <= now)
                    .map(move |(side, _, _)| (sid.clone(), side))
            })
            .collect();
        for (sid, side) in due {
            if let Some(transport) = self.transport_mut(&sid, side)
                && let Err(error) = transport.rtc.handle_input(Input::Timeout(now))
            {
                tracing::debug!(participant = %sid, %error, "timeout refused");
            }
            self.drain_and_dispatch(now, &sid, side);
        }
        if let Some(changes) = self.speakers.report(now) {
            self.announce_speakers(changes);
        }
        if let Some(changes) = self.quality.report(now) {
            self.announce_quality(changes);
        }
        self.send_due_dynacast(now);
    }

    /// `connection_quality` to everyone in the rooms of the participants whose quality changed.
    fn announce_quality(&mut self, changes: Vec<proto::ConnectionQualityInfo>) {
        self.announce_per_room(
            changes,
            |info| &info.participant_sid,
            |updates| Response::ConnectionQuality(proto::ConnectionQualityUpdate { updates }),
        );
    }

    /// `speakers_changed` to everyone in the rooms of the speakers that changed.
    fn announce_speakers(&mut self, changes: Vec<proto::SpeakerInfo>) {
        if !changes.is_empty() {
            tracing::debug!(?changes, "speakers changed");
        }
        self.announce_per_room(
            changes,
            |info| &info.sid,
            |speakers| Response::SpeakersChanged(proto::SpeakersChanged { speakers }),
        );
    }

    /// Groups `items` by the room of the participant each is about, and sends each room's
    /// group to everyone in that room.
    fn announce_per_room<T: Clone>(
        &mut self,
        items: Vec<T>,
        participant: impl Fn(&T) -> &String,
        message: impl Fn(Vec<T>) -> Response,
    ) {
        let mut by_room: HashMap<String, Vec<T>> = HashMap::new();
        for item in items {
            if let Some(peer) = self.peers.get(participant(&item)) {
                by_room
                    .entry(peer.profile.room.clone())
                    .or_default()
                    .push(item);
            }
        }
        for (room, group) in by_room {
            let listeners: Vec<String> = self
                .peers_in(&room)
                .filter(|(_, peer)| !peer.profile.in_lobby)
                .map(|(sid, _)| sid.clone())
                .collect();
            for sid in listeners {
                self.events.push(MediaEvent::Signal {
                    to: sid,
                    message: Box::new(message(group.clone())),
                });
            }
        }
    }

    /// The participants of `room`.
    fn peers_in<'a>(&'a self, room: &'a str) -> impl Iterator<Item = (&'a String, &'a Peer)> {
        self.peers
            .iter()
            .filter(move |(_, peer)| peer.profile.room == room)
    }

    /// Data from the server (RoomService `SendData`) to the room's participants.
    pub fn send_server_data(&mut self, now: Instant, room: &str, routed: &Routed) {
        self.deliver_data(now, room, None, routed);
    }

    /// Sends a packet to everyone in `room` it is addressed to, except its sender. Someone
    /// waiting in the lobby gets only what the server addresses to it by name.
    fn deliver_data(&mut self, now: Instant, room: &str, sender: Option<&str>, routed: &Routed) {
        let receivers: Vec<String> = self
            .peers_in(room)
            .filter(|(sid, peer)| {
                let named = routed.destinations.contains(&peer.profile.identity);
                Some(sid.as_str()) != sender
                    && data::is_addressed_to(&routed.destinations, &peer.profile.identity)
                    && (!peer.profile.in_lobby || (sender.is_none() && named))
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        let bytes: Arc<[u8]> = routed.bytes.as_slice().into();
        for sid in receivers {
            self.send_data(now, &sid, routed.lane, bytes.clone());
        }
    }

    /// The client's publisher offer, answered with each track's requested codec first
    /// (`preferred`: client track id → codec).
    pub fn accept_publisher_offer(
        &mut self,
        now: Instant,
        sid: &str,
        offer: &proto::SessionDescription,
        preferred: &HashMap<String, String>,
    ) -> Result<(), NegotiationError> {
        tracing::trace!(participant = %sid, sdp = %offer.sdp, "publisher offer");
        let parsed = SdpOffer::from_sdp_string(&offer.sdp)?;
        let candidates = self.candidates.clone();
        let Some(peer) = self.peers.get_mut(sid) else {
            return Ok(());
        };
        let publisher = peer
            .publisher
            .get_or_insert_with(|| Transport::new(now, &candidates));
        let answer = publisher.rtc.sdp_api().accept_offer(parsed)?;
        // A published track whose section no longer sends was unpublished by the client.
        let ended: Vec<String> = peer
            .published
            .iter()
            .filter(|(mid, _)| {
                publisher
                    .rtc
                    .media(**mid)
                    .is_none_or(|media| !media.direction().is_receiving())
            })
            .map(|(_, track_sid)| track_sid.clone())
            .collect();
        for track_sid in ended {
            self.events.push(MediaEvent::MediaEnded {
                participant: sid.to_owned(),
                track_sid,
            });
        }
        let sdp = codec_preference::prefer_codecs(&answer.to_sdp_string(), &offer.sdp, preferred);
        tracing::trace!(participant = %sid, %sdp, "publisher answer");
        self.events.push(MediaEvent::Signal {
            to: sid.to_owned(),
            message: Box::new(Response::Answer(proto::SessionDescription {
                r#type: "answer".to_owned(),
                sdp,
                id: offer.id,
                ..Default::default()
            })),
        });
        self.drain_and_dispatch(now, sid, Side::Publisher);
        Ok(())
    }

    fn accept_subscriber_answer(
        &mut self,
        now: Instant,
        sid: &str,
        answer: &proto::SessionDescription,
    ) -> Result<(), NegotiationError> {
        let parsed = SdpAnswer::from_sdp_string(&answer.sdp)?;
        let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut()) else {
            return Ok(());
        };
        let Some((pending, id)) = subscriber.pending.take() else {
            tracing::debug!(participant = %sid, "answer without an offer; ignored");
            return Ok(());
        };
        // The Rust SDK always answers with id 0.
        if answer.id != 0 && answer.id != id {
            tracing::debug!(participant = %sid, answer = answer.id, offer = id, "answer id differs");
        }
        subscriber
            .transport
            .rtc
            .sdp_api()
            .accept_answer(pending, parsed)?;
        self.drain_and_dispatch(now, sid, Side::Subscriber);
        self.negotiate(now, sid);
        Ok(())
    }

    fn add_remote_candidate(&mut self, now: Instant, sid: &str, trickle: &proto::TrickleRequest) {
        let side = if trickle.target == proto::SignalTarget::Subscriber as i32 {
            Side::Subscriber
        } else {
            Side::Publisher
        };
        let Some(candidate) = parse_trickle(&trickle.candidate_init) else {
            return;
        };
        if let Some(transport) = self.transport_mut(sid, side) {
            transport.rtc.add_remote_candidate(candidate);
            self.drain_and_dispatch(now, sid, side);
        }
    }

    fn apply_track_settings(
        &mut self,
        now: Instant,
        sid: &str,
        settings: &proto::UpdateTrackSettings,
    ) {
        let mut keyframes = Vec::new();
        if let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut()) {
            for track_sid in &settings.track_sids {
                if let Some(downtrack) = subscriber.downtracks.get_mut(track_sid) {
                    let before = downtrack.selector.target();
                    downtrack.selector.apply_settings(settings);
                    let target = downtrack.selector.target();
                    tracing::debug!(
                        subscriber = %sid,
                        track = %track_sid,
                        ?before,
                        ?target,
                        paused = downtrack.selector.is_paused(),
                        "track settings"
                    );
                    if target != before || !downtrack.selector.is_paused() {
                        keyframes.push((track_sid.clone(), downtrack.selector.keyframe_layer(now)));
                    }
                }
            }
        }
        for (track_sid, rid) in keyframes {
            self.request_keyframe(now, &track_sid, rid);
        }
        for track_sid in &settings.track_sids {
            self.refresh_dynacast(now, track_sid);
        }
    }

    fn update_subscription(&mut self, now: Instant, sid: &str, update: &proto::UpdateSubscription) {
        let track_sids = update
            .track_sids
            .iter()
            .chain(update.participant_tracks.iter().flat_map(|p| &p.track_sids))
            .cloned()
            .collect::<Vec<_>>();
        for track_sid in track_sids {
            if update.subscribe {
                self.subscribe(now, sid, &track_sid);
            } else {
                self.unsubscribe(now, sid, &track_sid, Parking::Park);
            }
        }
        self.negotiate(now, sid);
    }

    /// Adds a downtrack for `track_sid` to `sid`'s subscriber connection (negotiated later).
    fn subscribe(&mut self, now: Instant, sid: &str, track_sid: &str) {
        let Some(track) = self.tracks.get_mut(track_sid) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        if track.publisher == sid || peer.profile.room != track.room {
            return;
        }
        let Some(subscriber) = peer.subscriber.as_mut() else {
            return;
        };
        if subscriber.downtracks.contains_key(track_sid) {
            return;
        }
        let mid = subscriber.parked.remove(track_sid);
        if let Some(mid) = mid {
            subscriber.retired.retain(|retired| *retired != mid);
            subscriber.revived.push(mid);
        }
        subscriber.downtracks.insert(
            track_sid.to_owned(),
            Downtrack {
                publisher: track.publisher.clone(),
                kind: track.kind,
                mid,
                selector: LayerSelector::new(&track.layers),
            },
        );
        subscriber.dirty = true;
        track.subscribers.insert(sid.to_owned());
        self.refresh_dynacast(now, track_sid);
    }

    fn unsubscribe(&mut self, now: Instant, sid: &str, track_sid: &str, parking: Parking) {
        if let Some(track) = self.tracks.get_mut(track_sid) {
            track.subscribers.remove(sid);
        }
        let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut()) else {
            return;
        };
        if let Some(downtrack) = subscriber.downtracks.remove(track_sid) {
            if let Some(mid) = downtrack.mid {
                subscriber.revived.retain(|revived| *revived != mid);
                subscriber.retired.push(mid);
                if parking == Parking::Park {
                    subscriber.parked.insert(track_sid.to_owned(), mid);
                }
            }
            subscriber.dirty = true;
        }
        self.refresh_dynacast(now, track_sid);
    }

    /// Tells the publisher of `track_sid` the best quality its subscribers now want, if that
    /// changed (a downgrade once it held: [`Forwarder::handle_timeout`] sends it).
    fn refresh_dynacast(&mut self, now: Instant, track_sid: &str) {
        let Some(track) = self.tracks.get_mut(track_sid) else {
            return;
        };
        let Some(dynacast) = track.dynacast.as_mut() else {
            return;
        };
        let wanted = track
            .subscribers
            .iter()
            .filter_map(|sid| {
                let subscriber = self.peers.get(sid)?.subscriber.as_ref()?;
                subscriber
                    .downtracks
                    .get(track_sid)?
                    .selector
                    .wanted_quality()
            })
            .max();
        let told = dynacast.want(now, wanted);
        if let Some(deadline) = dynacast.deadline() {
            note_deadline(&mut self.deadline_hint, deadline);
        }
        if let Some(wanted) = told {
            self.tell_publisher(track_sid, wanted);
        }
    }

    /// Dynacast downgrades that have held long enough.
    fn send_due_dynacast(&mut self, now: Instant) {
        let due: Vec<(String, dynacast::WantedQuality)> = self
            .tracks
            .iter_mut()
            .filter_map(|(sid, track)| Some((sid.clone(), track.dynacast.as_mut()?.due(now)?)))
            .collect();
        for (track_sid, wanted) in due {
            self.tell_publisher(&track_sid, wanted);
        }
    }

    fn tell_publisher(&mut self, track_sid: &str, wanted: dynacast::WantedQuality) {
        let Some(track) = self.tracks.get(track_sid) else {
            return;
        };
        tracing::debug!(track = %track_sid, ?wanted, "dynacast");
        let update = dynacast::quality_update(track_sid, &track.mime_type, wanted);
        self.events.push(MediaEvent::Signal {
            to: track.publisher.clone(),
            message: Box::new(Response::SubscribedQualityUpdate(update)),
        });
    }

    /// Sends a new subscriber offer if something changed and no offer is outstanding (the next
    /// one follows the answer).
    fn negotiate(&mut self, now: Instant, sid: &str) {
        let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut()) else {
            return;
        };
        if subscriber.pending.is_some() || !subscriber.dirty || subscriber.transport.failed {
            return;
        }
        subscriber.dirty = false;
        let mut api = subscriber.transport.rtc.sdp_api();
        if std::mem::take(&mut subscriber.restart_ice) {
            api.ice_restart(true);
        }
        if !subscriber.channels_added {
            subscriber.channels_added = true;
            api.add_channel_with_config(ChannelConfig {
                label: data::RELIABLE_LABEL.to_owned(),
                ..Default::default()
            });
            api.add_channel_with_config(ChannelConfig {
                label: data::LOSSY_LABEL.to_owned(),
                ordered: false,
                reliability: Reliability::MaxRetransmits { retransmits: 0 },
                ..Default::default()
            });
        }
        let mut mid_to_track_id = HashMap::new();
        for (track_sid, downtrack) in &mut subscriber.downtracks {
            if downtrack.mid.is_none() {
                // LiveKit SDKs find the publisher and the track from the msid stream id.
                let stream_id = format!("{}|{}", downtrack.publisher, track_sid);
                let mid = api.add_media(
                    downtrack.kind,
                    Direction::SendOnly,
                    Some(stream_id),
                    Some(track_sid.clone()),
                    None,
                );
                downtrack.mid = Some(mid);
            }
            if let Some(mid) = downtrack.mid {
                mid_to_track_id.insert(mid.to_string(), track_sid.clone());
            }
        }
        for mid in subscriber.retired.drain(..) {
            api.set_direction(mid, Direction::Inactive);
        }
        for mid in subscriber.revived.drain(..) {
            api.set_direction(mid, Direction::SendOnly);
        }
        if let Some((offer, pending)) = api.apply() {
            let id = subscriber.next_offer_id;
            subscriber.next_offer_id += 1;
            subscriber.pending = Some((pending, id));
            self.events.push(MediaEvent::Signal {
                to: sid.to_owned(),
                message: Box::new(Response::Offer(proto::SessionDescription {
                    r#type: "offer".to_owned(),
                    sdp: offer.to_sdp_string(),
                    id,
                    mid_to_track_id,
                })),
            });
        }
        self.drain_and_dispatch(now, sid, Side::Subscriber);
    }

    fn route(&mut self, source: SocketAddr, input: &Input<'_>) -> Option<(String, Side)> {
        if let Some((sid, side)) = self.routes.get(&source)
            && let Some(transport) = self.transport(sid, *side)
            && transport.rtc.accepts(input)
        {
            return Some((sid.clone(), *side));
        }
        let found = self.peers.iter().find_map(|(sid, peer)| {
            let subscriber = peer.subscriber.as_ref().map(|s| &s.transport);
            [
                (Side::Publisher, peer.publisher.as_ref()),
                (Side::Subscriber, subscriber),
            ]
            .into_iter()
            .find(|(_, t)| t.is_some_and(|t| !t.failed && t.rtc.accepts(input)))
            .map(|(side, _)| (sid.clone(), side))
        })?;
        self.routes.insert(source, found.clone());
        Some(found)
    }

    fn transport(&self, sid: &str, side: Side) -> Option<&Transport> {
        let peer = self.peers.get(sid)?;
        match side {
            Side::Publisher => peer.publisher.as_ref(),
            Side::Subscriber => peer.subscriber.as_ref().map(|s| &s.transport),
        }
    }

    fn transport_mut(&mut self, sid: &str, side: Side) -> Option<&mut Transport> {
        let peer = self.peers.get_mut(sid)?;
        match side {
            Side::Publisher => peer.publisher.as_mut(),
            Side::Subscriber => peer.subscriber.as_mut().map(|s| &mut s.transport),
        }
    }

    /// Drains one peer connection and acts on its events.
    fn drain_and_dispatch(&mut self, now: Instant, sid: &str, side: Side) {
        let Some(transport) = self.transport_mut(sid, side) else {
            return;
        };
        let mut datagrams = Vec::new();
        let events = transport.drain(now, &mut datagrams);
        let next_timeout = transport.next_timeout;
        let channels = (!events.is_empty()).then(|| transport.channels.clone());
        note_deadline(&mut self.deadline_hint, next_timeout);
        self.datagrams.append(&mut datagrams);
        let Some(channels) = channels else {
            return;
        };
        for event in events {
            self.dispatch(now, sid, side, event, &channels);
        }
    }

    fn dispatch(
        &mut self,
        now: Instant,
        sid: &str,
        side: Side,
        event: Event,
        channels: &HashMap<ChannelId, String>,
    ) {
        match event {
            Event::Connected => {
                tracing::info!(participant = %sid, ?side, "media connected");
                if side == Side::Subscriber {
                    self.request_keyframes_for(now, sid);
                }
            }
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(participant = %sid, ?side, ?state, "ICE state");
            }
            // Clients also add receive-only sections to their publisher offer (pre-allocated
            // transceivers); only what they send can be a track.
            Event::MediaAdded(added)
                if side == Side::Publisher && added.direction.is_receiving() =>
            {
                let cid = self
                    .transport(sid, side)
                    .and_then(|t| t.rtc.media(added.mid))
                    .map(|media| media.track_id().to_owned())
                    .unwrap_or_default();
                let kind = match added.kind {
                    MediaKind::Audio => proto::TrackType::Audio,
                    MediaKind::Video => proto::TrackType::Video,
                };
                self.events.push(MediaEvent::MediaArrived {
                    participant: sid.to_owned(),
                    mid: added.mid.to_string(),
                    cid,
                    kind,
                });
            }
            Event::MediaData(media) if side == Side::Publisher => {
                self.forward_media(now, sid, &media);
            }
            Event::KeyframeRequest(request) if side == Side::Subscriber => {
                let track = self
                    .peers
                    .get(sid)
                    .and_then(|p| p.subscriber.as_ref())
                    .and_then(|s| {
                        s.downtracks
                            .iter()
                            .find(|(_, d)| d.mid == Some(request.mid))
                            .map(|(track_sid, d)| {
                                (track_sid.clone(), d.selector.keyframe_layer(now))
                            })
                    });
                if let Some((track_sid, rid)) = track {
                    self.request_keyframe(now, &track_sid, rid);
                }
            }
            Event::ChannelOpen(id, label) => {
                if Lane::from_label(&label).is_some()
                    && let Some(transport) = self.transport_mut(sid, side)
                    && let Some(mut channel) = transport.rtc.channel(id)
                {
                    channel.set_buffered_amount_low_threshold(DATA_LOW_WATER_BYTES);
                }
                self.flush_data(now, sid);
            }
            Event::ChannelBufferedAmountLow(_) => self.flush_data(now, sid),
            Event::MediaIngressStats(stats) => {
                self.quality.observe(now, sid, stats.loss, stats.rtt);
            }
            Event::MediaEgressStats(stats) => {
                self.quality.observe(now, sid, stats.loss, stats.rtt);
            }
            Event::ChannelData(message) => {
                let lane = channels.get(&message.id).and_then(|l| Lane::from_label(l));
                match lane {
                    Some(lane) if message.binary => {
                        self.route_data(now, sid, lane, &message.data);
                    }
                    _ => tracing::debug!(participant = %sid, "data on an unknown channel dropped"),
                }
            }
            _ => {}
        }
    }

    /// Writes one frame of a published track to each of its subscribers.
    fn forward_media(&mut self, now: Instant, publisher: &str, media: &MediaData) {
        let Some(track_sid) = self
            .peers
            .get(publisher)
            .and_then(|p| p.published.get(&media.mid))
            .cloned()
        else {
            return;
        };
        if let Some(level) = media.ext_vals.audio_level {
            self.speakers.observe(now, publisher, level);
        }
        // The hot path: borrow the track and the peers field by field instead of copying the
        // subscriber list for every frame.
        let Some(track) = self.tracks.get(&track_sid) else {
            return;
        };
        let keyframe = media.is_keyframe();
        let mut wanted_keyframe = None;
        for sid in &track.subscribers {
            let Some(subscriber) = self.peers.get_mut(sid).and_then(|p| p.subscriber.as_mut())
            else {
                continue;
            };
            let Some(downtrack) = subscriber.downtracks.get_mut(&track_sid) else {
                continue;
            };
            let Some(mid) = downtrack.mid else {
                continue;
            };
            let before = downtrack.selector.current();
            let verdict =
                downtrack
                    .selector
                    .accept(media.rid, keyframe, media.time, media.network_time);
            if downtrack.selector.current() != before {
                tracing::debug!(
                    subscriber = %sid,
                    track = %track_sid,
                    from = ?before,
                    to = ?downtrack.selector.current(),
                    target = ?downtrack.selector.target(),
                    "layer switched"
                );
            }
            let time = match verdict {
                Verdict::Forward(time) => time,
                Verdict::Drop { want_keyframe } => {
                    if want_keyframe {
                        // The layer of this frame: the one waiting for its keyframe.
                        wanted_keyframe = Some(media.rid);
                    }
                    continue;
                }
            };
            let Some(writer) = subscriber.transport.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(media.params) else {
                continue;
            };
            let mut writer = writer;
            if let Some(level) = media.ext_vals.audio_level {
                writer = writer.audio_level(level, media.ext_vals.voice_activity.unwrap_or(false));
            }
            if let Err(error) = writer.write(pt, media.network_time, time, media.data.clone()) {
                tracing::debug!(participant = %sid, %error, "media write refused");
            }
            // A send-only connection raises no events worth acting on after a write.
            let _ = subscriber.transport.drain(now, &mut self.datagrams);
            note_deadline(&mut self.deadline_hint, subscriber.transport.next_timeout);
        }
        if let Some(rid) = wanted_keyframe {
            self.request_keyframe(now, &track_sid, rid);
        }
    }

    /// A new subscriber connection needs a keyframe for every video track it receives.
    fn request_keyframes_for(&mut self, now: Instant, sid: &str) {
        let wanted: Vec<(String, Option<Rid>)> = self
            .peers
            .get(sid)
            .and_then(|p| p.subscriber.as_ref())
            .map(|s| {
                s.downtracks
                    .iter()
                    .filter(|(_, d)| d.kind == MediaKind::Video)
                    .map(|(track_sid, d)| (track_sid.clone(), d.selector.keyframe_layer(now)))
                    .collect()
            })
            .unwrap_or_default();
        for (track_sid, rid) in wanted {
            self.request_keyframe(now, &track_sid, rid);
        }
    }

    /// Asks the publisher of `track_sid` for a keyframe on layer `rid`, at most once per
    /// interval.
    fn request_keyframe(&mut self, now: Instant, track_sid: &str, rid: Option<Rid>) {
        let Some(track) = self.tracks.get_mut(track_sid) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        if let Some(last) = track.last_keyframe_request.get(&rid)
            && now.saturating_duration_since(*last) < KEYFRAME_REQUEST_INTERVAL
        {
            return;
        }
        track.last_keyframe_request.insert(rid, now);
        tracing::debug!(track = %track_sid, ?rid, "keyframe requested");
        let (publisher, mid) = (track.publisher.clone(), track.mid);
        let Some(transport) = self.transport_mut(&publisher, Side::Publisher) else {
            return;
        };
        if let Some(mut writer) = transport.rtc.writer(mid)
            && let Err(error) = writer.request_keyframe(rid, KeyframeRequestKind::Pli)
        {
            tracing::debug!(track = %track_sid, %error, "keyframe request not possible yet");
        }
        self.drain_and_dispatch(now, &publisher, Side::Publisher);
    }

    /// A data packet from participant `sid`: stamped and sent to its receivers in the room.
    fn route_data(&mut self, now: Instant, sid: &str, lane: Lane, bytes: &[u8]) {
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        let sender = data::Sender {
            sid,
            identity: &peer.profile.identity,
            hidden: peer.profile.hidden,
            can_publish_data: peer.profile.can_publish_data,
        };
        let routed = match data::admit(bytes, &sender, lane, &mut peer.last_reliable_sequence) {
            Ok(routed) => routed,
            Err(rejection) => {
                tracing::info!(participant = %sid, %rejection, "data packet dropped");
                return;
            }
        };
        let room = peer.profile.room.clone();
        self.deliver_data(now, &room, Some(sid), &routed);
    }

    /// Queues data for a participant: reliable data keeps its order behind a backlog; lossy
    /// data that does not fit is dropped, as lossy data may be.
    fn send_data(&mut self, now: Instant, sid: &str, lane: Lane, bytes: Arc<[u8]>) {
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        match lane {
            Lane::Lossy => {
                if let Some(side) = write_data(peer, lane, &bytes)
                    .inspect_err(|()| tracing::trace!(participant = %sid, "lossy data dropped"))
                    .ok()
                    .flatten()
                {
                    self.drain_and_dispatch(now, sid, side);
                }
            }
            Lane::Reliable => {
                if peer.data_backlog_bytes + bytes.len() > MAX_DATA_BACKLOG_BYTES {
                    tracing::warn!(participant = %sid, "reliable data backlog full; dropping");
                    return;
                }
                peer.data_backlog_bytes += bytes.len();
                peer.data_backlog.push_back(bytes);
                self.flush_data(now, sid);
            }
        }
    }

    /// Writes as much of a participant's reliable backlog as its channel accepts.
    fn flush_data(&mut self, now: Instant, sid: &str) {
        let mut touched = None;
        if let Some(peer) = self.peers.get_mut(sid) {
            while let Some(bytes) = peer.data_backlog.front().cloned() {
                match write_data(peer, Lane::Reliable, &bytes) {
                    Ok(Some(side)) => {
                        touched = Some(side);
                        peer.data_backlog.pop_front();
                        peer.data_backlog_bytes -= bytes.len();
                    }
                    Ok(None) | Err(()) => break,
                }
            }
        }
        if let Some(side) = touched {
            self.drain_and_dispatch(now, sid, side);
        }
    }
}

/// The simulcast layers a publisher announced: per codec in newer SDKs, on the track in older.
fn announced_layers(track: &proto::TrackInfo) -> Vec<proto::VideoLayer> {
    match track.codecs.first() {
        Some(codec) if !codec.layers.is_empty() => codec.layers.clone(),
        #[allow(deprecated)]
        _ => track.layers.clone(),
    }
}

/// Writes to the participant's channel for `lane`: the server's own channel on the subscriber
/// connection, or the client's on the publisher connection for participants that do not
/// subscribe. `Ok(None)`: no open channel yet; `Err`: the channel is full.
fn write_data(peer: &mut Peer, lane: Lane, bytes: &[u8]) -> Result<Option<Side>, ()> {
    let label = lane.label();
    let subscriber = peer
        .subscriber
        .as_mut()
        .map(|s| (Side::Subscriber, &mut s.transport));
    let publisher = peer.publisher.as_mut().map(|t| (Side::Publisher, t));
    let Some((side, transport, id)) = subscriber
        .into_iter()
        .chain(publisher)
        .find_map(|(side, t)| t.channel_labelled(label).map(|id| (side, t, id)))
    else {
        return Ok(None);
    };
    let Some(mut channel) = transport.rtc.channel(id) else {
        return Ok(None);
    };
    match channel.write(true, bytes) {
        Ok(true) => Ok(Some(side)),
        Ok(false) => Err(()),
        Err(error) => {
            tracing::debug!(%error, "data channel write failed");
            Err(())
        }
    }
}

/// The candidate in a trickle message (`JSON.stringify(RTCIceCandidate)`). Browser mDNS
/// (`.local`) candidates and end-of-candidates markers yield nothing; an ICE-lite server learns
/// the client's address from its checks anyway.
fn parse_trickle(candidate_init: &str) -> Option<Candidate> {
    #[derive(serde::Deserialize)]
    struct CandidateInit {
        candidate: String,
    }
    let init: CandidateInit = serde_json::from_str(candidate_init).ok()?;
    if init.candidate.is_empty() {
        return None;
    }
    Candidate::from_sdp_string(&init.candidate)
        .inspect_err(|error| tracing::debug!(%error, "trickled candidate ignored"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trickled_candidates_are_parsed_and_junk_is_ignored() {
        let init = r#"{"candidate":"candidate:1 1 udp 2122260223 10.77.0.2 50000 typ host","sdpMid":"0","sdpMLineIndex":0}"#;
        assert!(parse_trickle(init).is_some());
        assert!(parse_trickle(r#"{"candidate":""}"#).is_none());
        assert!(parse_trickle("not json").is_none());
        let mdns = r#"{"candidate":"candidate:1 1 udp 2122260223 abc.local 50000 typ host"}"#;
        assert!(parse_trickle(mdns).is_none());
    }
}
