//! One WebRTC connection to the server, as LiveKit negotiates them: the *publisher* (we offer,
//! carries what we send and our `_reliable` / `_lossy` data channels) or the *subscriber* (the
//! server offers, carries what we receive). On a single peer connection (`/rtc/v1`) the
//! publisher carries both directions.
//!
//! Sans-IO around str0m: datagrams and time go in, datagrams to send and [`TransportEvent`]s
//! come out of [`PeerTransport::poll`]. The engine owns the sockets and the clock.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpApi, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid, Pt, Rid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};

use crate::ice_tcp::is_stun;

/// LiveKit's reliable (ordered, retransmitted) data channel.
pub const RELIABLE_LABEL: &str = "_reliable";
/// LiveKit's lossy (unordered, never retransmitted) data channel.
pub const LOSSY_LABEL: &str = "_lossy";
/// What the publisher's bandwidth estimate starts from before feedback arrives (libwebrtc
/// starts at 300 kbit/s as well).
const INITIAL_BITRATE_BPS: u64 = 300_000;
/// Data waiting in SCTP before a write reports the channel as full.
const SCTP_BUFFER_BYTES: usize = 4 * 1024 * 1024;
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// ICE checks. A pair is checked again [`INITIAL_STUN_RTO`] after its first check, doubling up
/// to [`MAX_STUN_RTO`]. LiveKit's server (pion, the controlling side) nominates a pair at once
/// when our check arrives on a pair its own check has validated, and otherwise only on its
/// next 200 ms tick; checking again soon after the first answer, as libwebrtc does (every
/// ~48 ms until writable), saves up to 200 ms of every join (str0m starts at 250 ms).
const INITIAL_STUN_RTO: Duration = Duration::from_millis(50);
/// The nominated pair is checked at least this often, and a path that stops answering counts
/// as lost after [`STUN_RETRANSMITS`] unanswered checks: 50 + 100 + … + 1500 ms, about 6 s,
/// close to what browsers take (str0m's defaults take about 20 s).
const MAX_STUN_RTO: Duration = Duration::from_millis(1500);
const STUN_RETRANSMITS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Publisher,
    Subscriber,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the server's session description does not parse: {0}")]
    BadSdp(String),
    #[error("the server's session description was refused: {0}")]
    Negotiation(String),
    #[error("an answer arrived with no offer outstanding")]
    UnexpectedAnswer,
    #[error("media {0} is not negotiated")]
    UnknownMedia(String),
    #[error("data channel {0} is not open")]
    ChannelClosed(&'static str),
    #[error("WebRTC: {0}")]
    Rtc(String),
}

impl From<str0m::error::IceError> for TransportError {
    fn from(error: str0m::error::IceError) -> Self {
        Self::Rtc(error.to_string())
    }
}

impl From<str0m::error::NetError> for TransportError {
    fn from(error: str0m::error::NetError) -> Self {
        Self::Rtc(error.to_string())
    }
}

impl From<RtcError> for TransportError {
    fn from(error: RtcError) -> Self {
        Self::Rtc(error.to_string())
    }
}

/// What a connection reports.
#[derive(Debug)]
pub enum TransportEvent {
    /// ICE and DTLS are up.
    Connected,
    /// ICE gave up on every candidate pair.
    Failed,
    ChannelOpen(&'static str),
    /// A message on any data channel.
    ChannelData(Vec<u8>),
    /// The remote side added media (a subscribed track) with this msid track id.
    MediaAdded {
        mid: Mid,
        track_id: String,
        kind: MediaKind,
    },
    /// One depacketised frame of remote media.
    Media(Box<MediaData>),
    /// The server asks for a keyframe on our media.
    KeyframeRequest {
        mid: Mid,
        rid: Option<Rid>,
        full: bool,
    },
    /// The send-side bandwidth estimate changed.
    Bitrate(Bitrate),
    /// Media now goes over this path (UDP, or TCP when UDP got no answer).
    Path(MediaPath),
}

/// How a connection's media reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaPath {
    Udp,
    /// ICE-TCP to one of the server's passive TCP candidates.
    Tcp,
}

impl MediaPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// What [`PeerTransport::poll`] gives the engine to do.
#[derive(Debug)]
pub enum Poll {
    Transmit {
        path: MediaPath,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Event(TransportEvent),
    /// Nothing more until this time (or new input).
    Wait(Instant),
}

#[derive(Debug)]
pub struct PeerTransport {
    role: Role,
    rtc: Rtc,
    local: SocketAddr,
    /// Our active ICE-TCP candidate (the discard port: its connections get their own ports).
    tcp_local: SocketAddr,
    /// The path media (anything but STUN) last went out on, and whether the engine was told.
    path: Option<MediaPath>,
    path_told: bool,
    pending_offer: Option<SdpPendingOffer>,
    channels: HashMap<&'static str, ChannelId>,
    connected: bool,
    /// ICE has a working candidate pair.
    ice_up: bool,
    failed: bool,
}

impl PeerTransport {
    /// A connection with two host candidates: UDP on `local` (the socket the engine reads)
    /// and active TCP from the same address (connections the engine makes, see
    /// [`crate::ice_tcp`]).
    pub fn new(role: Role, now: Instant, local: SocketAddr) -> Result<Self, TransportError> {
        let mut builder = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, true)
            .enable_vp8(true)
            .enable_h264(true)
            .set_sctp_max_buffered_amount(SCTP_BUFFER_BYTES)
            .set_stats_interval(Some(STATS_INTERVAL));
        if role == Role::Publisher {
            builder = builder.enable_bwe(Some(Bitrate::bps(INITIAL_BITRATE_BPS)));
        }
        builder.set_initial_stun_rto(INITIAL_STUN_RTO);
        builder.set_max_stun_rto(MAX_STUN_RTO);
        builder.set_max_stun_retransmits(STUN_RETRANSMITS);
        let mut rtc = builder.build(now);
        let candidate = Candidate::host(local, Protocol::Udp)?;
        rtc.add_local_candidate(candidate);
        let tcp_local = active_tcp_address(local.ip());
        let tcp_candidate = Candidate::builder()
            .tcp()
            .host(tcp_local)
            .tcptype(TcpType::Active)
            .build()?;
        rtc.add_local_candidate(tcp_candidate);
        Ok(Self {
            role,
            rtc,
            local,
            tcp_local,
            path: None,
            path_told: true,
            pending_offer: None,
            channels: HashMap::new(),
            connected: false,
            ice_up: false,
            failed: false,
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The address of this connection's host candidate (its socket).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Whether ICE currently has a working path (it drops during an outage and comes back
    /// after an ICE restart).
    pub fn is_ice_up(&self) -> bool {
        self.ice_up
    }

    /// Forgets an offer of ours the server never answered (the outage swallowed it); its
    /// changes are not applied. Returns whether there was one.
    pub fn abandon_offer(&mut self) -> bool {
        self.pending_offer.take().is_some()
    }

    /// Whether `mid` is part of the negotiated session.
    pub fn has_media(&self, mid: Mid) -> bool {
        self.rtc.media(mid).is_some()
    }

    /// Whether an offer of ours waits for the server's answer.
    pub fn awaits_answer(&self) -> bool {
        self.pending_offer.is_some()
    }

    /// Answers the server's offer (subscriber side).
    pub fn accept_offer(&mut self, now: Instant, sdp: &str) -> Result<String, TransportError> {
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| TransportError::BadSdp(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| TransportError::Negotiation(e.to_string()))?;
        self.advance(now)?;
        Ok(answer.to_sdp_string())
    }

    /// Applies `changes` and returns the offer to send, or `None` when nothing changed. Only one
    /// offer is outstanding at a time: call again after the answer.
    pub fn create_offer(
        &mut self,
        changes: impl FnOnce(&mut SdpApi<'_>),
    ) -> Result<Option<String>, TransportError> {
        if self.pending_offer.is_some() {
            return Ok(None);
        }
        let mut api = self.rtc.sdp_api();
        changes(&mut api);
        let Some((offer, pending)) = api.apply() else {
            return Ok(None);
        };
        self.pending_offer = Some(pending);
        Ok(Some(offer.to_sdp_string()))
    }

    /// Adds LiveKit's two data channels to the next offer.
    pub fn add_data_channels(api: &mut SdpApi<'_>) {
        api.add_channel_with_config(ChannelConfig {
            label: RELIABLE_LABEL.into(),
            ..Default::default()
        });
        api.add_channel_with_config(ChannelConfig {
            label: LOSSY_LABEL.into(),
            ordered: false,
            reliability: Reliability::MaxRetransmits { retransmits: 0 },
            ..Default::default()
        });
    }

    pub fn accept_answer(&mut self, now: Instant, sdp: &str) -> Result<(), TransportError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| TransportError::BadSdp(e.to_string()))?;
        let pending = self
            .pending_offer
            .take()
            .ok_or(TransportError::UnexpectedAnswer)?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| TransportError::Negotiation(e.to_string()))?;
        self.advance(now)
    }

    /// A candidate the server trickled (`candidate:…` SDP attribute value). Of TCP
    /// candidates only passive ones are used: we connect, we never listen.
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: &str,
    ) -> Result<(), TransportError> {
        let candidate = Candidate::from_sdp_string(candidate)?;
        if candidate.proto() != Protocol::Udp && candidate.tcptype() != Some(TcpType::Passive) {
            return Err(TransportError::Rtc(format!(
                "{} candidate without tcptype passive",
                candidate.proto()
            )));
        }
        self.rtc.add_remote_candidate(candidate);
        self.advance(now)
    }

    /// A datagram that arrived on `path`: the UDP socket, or the ICE-TCP connection to
    /// `source`.
    pub fn receive(
        &mut self,
        now: Instant,
        path: MediaPath,
        source: SocketAddr,
        contents: &[u8],
    ) -> Result<(), TransportError> {
        let (protocol, local) = match path {
            MediaPath::Udp => (Protocol::Udp, self.local),
            MediaPath::Tcp => (Protocol::Tcp, self.tcp_local),
        };
        let receive = Receive::new(protocol, source, local, contents)?;
        self.rtc.handle_input(Input::Receive(now, receive))?;
        Ok(())
    }

    /// Lets time pass. str0m's ICE agent only acts on a timeout input, so every change of
    /// the session description or the candidates is followed by one.
    pub fn advance(&mut self, now: Instant) -> Result<(), TransportError> {
        self.rtc.handle_input(Input::Timeout(now))?;
        Ok(())
    }

    /// The next thing to do. Call until it returns [`Poll::Wait`].
    pub fn poll(&mut self) -> Result<Poll, TransportError> {
        if !self.path_told
            && let Some(path) = self.path
        {
            self.path_told = true;
            return Ok(Poll::Event(TransportEvent::Path(path)));
        }
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => return Ok(Poll::Wait(at)),
                Output::Transmit(transmit) => {
                    let path = match transmit.proto {
                        Protocol::Udp => MediaPath::Udp,
                        _ => MediaPath::Tcp,
                    };
                    let contents: Vec<u8> = transmit.contents.into();
                    if !is_stun(&contents) && self.path != Some(path) {
                        self.path = Some(path);
                        self.path_told = false;
                    }
                    return Ok(Poll::Transmit {
                        path,
                        destination: transmit.destination,
                        contents,
                    });
                }
                Output::Event(event) => {
                    if let Some(event) = self.translate(event) {
                        return Ok(Poll::Event(event));
                    }
                }
            }
        }
    }

    fn translate(&mut self, event: Event) -> Option<TransportEvent> {
        match event {
            Event::Connected => {
                self.connected = true;
                Some(TransportEvent::Connected)
            }
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(role = ?self.role, ?state, "ICE");
                match state {
                    IceConnectionState::Connected | IceConnectionState::Completed => {
                        self.ice_up = true;
                        None
                    }
                    IceConnectionState::Disconnected => {
                        self.ice_up = false;
                        if self.rtc.is_alive() {
                            None
                        } else {
                            self.failed = true;
                            Some(TransportEvent::Failed)
                        }
                    }
                    _ => None,
                }
            }
            Event::ChannelOpen(id, label) => {
                let label = match label.as_str() {
                    RELIABLE_LABEL => RELIABLE_LABEL,
                    LOSSY_LABEL => LOSSY_LABEL,
                    _ => return None,
                };
                self.channels.insert(label, id);
                Some(TransportEvent::ChannelOpen(label))
            }
            Event::ChannelClose(id) => {
                self.channels.retain(|_, open| *open != id);
                None
            }
            Event::ChannelData(data) => Some(TransportEvent::ChannelData(data.data)),
            Event::MediaAdded(added) => {
                let track_id = self
                    .rtc
                    .media(added.mid)
                    .map(|media| media.track_id().to_owned())
                    .unwrap_or_default();
                Some(TransportEvent::MediaAdded {
                    mid: added.mid,
                    track_id,
                    kind: added.kind,
                })
            }
            Event::MediaData(data) => Some(TransportEvent::Media(Box::new(data))),
            Event::KeyframeRequest(request) => Some(TransportEvent::KeyframeRequest {
                mid: request.mid,
                rid: request.rid,
                full: request.kind == KeyframeRequestKind::Fir,
            }),
            Event::EgressBitrateEstimate(estimate) => {
                Some(TransportEvent::Bitrate(bitrate_of(&estimate)))
            }
            _ => None,
        }
    }

    /// Whether `label` is open for writing.
    pub fn channel_open(&self, label: &'static str) -> bool {
        self.channels.contains_key(label)
    }

    /// Writes one message on `label`. `Ok(false)` means SCTP's buffer is full: try later.
    pub fn send_data(&mut self, label: &'static str, bytes: &[u8]) -> Result<bool, TransportError> {
        let id = *self
            .channels
            .get(label)
            .ok_or(TransportError::ChannelClosed(label))?;
        let mut channel = self
            .rtc
            .channel(id)
            .ok_or(TransportError::ChannelClosed(label))?;
        Ok(channel.write(true, bytes)?)
    }

    /// Bytes written on `label` that SCTP has not had acknowledged yet.
    pub fn buffered(&mut self, label: &'static str) -> usize {
        self.channels
            .get(label)
            .and_then(|id| self.rtc.channel(*id))
            .map_or(0, |mut channel| channel.buffered_amount())
    }

    /// Sends one encoded frame on `mid` with payload type `pt` (from [`Self::negotiated_pt`]),
    /// packetised by str0m.
    pub fn write_media(
        &mut self,
        mid: Mid,
        pt: Pt,
        frame: OutgoingFrame<'_>,
    ) -> Result<(), TransportError> {
        let mut writer = self
            .rtc
            .writer(mid)
            .ok_or_else(|| TransportError::UnknownMedia(mid.to_string()))?;
        if let Some(rid) = frame.rid {
            writer = writer.rid(rid);
        }
        if let Some(level) = frame.audio_level {
            writer = writer.audio_level(level, level > VOICE_LEVEL_DBOV);
        }
        writer.write(
            pt,
            frame.wallclock,
            frame.rtp_time,
            Arc::<[u8]>::from(frame.data),
        )?;
        Ok(())
    }

    /// The payload type negotiated on `mid` for the first of `wanted` the answer accepted,
    /// and that codec.
    pub fn negotiated_pt(&mut self, mid: Mid, wanted: &[Codec]) -> Option<(Pt, Codec)> {
        let writer = self.rtc.writer(mid)?;
        wanted.iter().find_map(|codec| {
            writer
                .payload_params()
                .find(|params| params.spec().codec == *codec)
                .map(|params| (params.pt(), *codec))
        })
    }

    /// Whether the negotiated media `mid` receives from the other side (not `inactive` or
    /// send-only).
    pub fn receives(&self, mid: Mid) -> bool {
        self.rtc
            .media(mid)
            .is_some_and(|media| media.direction().is_receiving())
    }

    /// Whether negotiated media `mid` is audio or video.
    pub fn media_kind(&self, mid: Mid) -> Option<MediaKind> {
        self.rtc.media(mid).map(|media| media.kind())
    }

    /// What the bandwidth estimator should probe for: the sum of what our tracks could use.
    pub fn set_desired_bitrate(&mut self, desired: Bitrate) {
        let minimum = Bitrate::bps(desired.as_u64().min(INITIAL_BITRATE_BPS));
        self.rtc.bwe().set_bitrate(minimum, desired);
    }

    /// Asks the server for a keyframe of remote media `mid`.
    pub fn request_keyframe(&mut self, mid: Mid) {
        if let Some(mut writer) = self.rtc.writer(mid) {
            let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
        }
    }

    /// Closes the connection (DTLS close alert, no more output).
    pub fn close(&mut self) {
        self.rtc.disconnect();
    }
}

/// Where our active ICE-TCP candidate says it is: its IP and the discard port, as RFC 6544
/// asks of active candidates (each connection gets its own port when it is made).
fn active_tcp_address(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 9)
}

/// RTP audio level (−dBov) above which a frame counts as voice.
const VOICE_LEVEL_DBOV: i8 = -50;

/// One encoded frame as the transport sends it.
#[derive(Debug)]
pub struct OutgoingFrame<'a> {
    pub data: &'a [u8],
    pub rid: Option<Rid>,
    pub wallclock: Instant,
    pub rtp_time: MediaTime,
    /// −dBov (0 loudest, −127 silence) for the audio-level header extension.
    pub audio_level: Option<i8>,
}

fn bitrate_of(estimate: &str0m::bwe::BweKind) -> Bitrate {
    match estimate {
        str0m::bwe::BweKind::Twcc { estimate, .. } | str0m::bwe::BweKind::Remb { estimate, .. } => {
            *estimate
        }
        _ => Bitrate::ZERO,
    }
}
