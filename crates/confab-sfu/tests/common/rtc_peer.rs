//! A minimal LiveKit client with real peer connections (str0m over loopback UDP), for scenario
//! tests that need to do what no SDK lets a client do: forge fields, break rules, misbehave.
//!
//! It answers the server's subscriber offers, can open the publisher connection with the
//! `_reliable` / `_lossy` data channels, sends raw `DataPacket`s and collects the ones it
//! receives. Everything runs inside [`RtcPeer::run_until`], which waits on the signalling
//! socket, the UDP socket and str0m's timers — no sleeps.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use futures_util::StreamExt;
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::Message;

use super::{DEADLINE, Socket, connect, connect_with, send};

pub struct RtcPeer {
    pub ws: Socket,
    pub join: proto::JoinResponse,
    /// One socket per connection, as libwebrtc does: the server tells connections apart by
    /// their address once ICE has picked it.
    udp: [UdpSocket; 2],
    publisher: Rtc,
    subscriber: Rtc,
    pending_offer: Option<SdpPendingOffer>,
    /// Data channels by label, per connection.
    publisher_channels: HashMap<String, ChannelId>,
    subscriber_connected: bool,
    /// When the publisher and the subscriber connection next need a timeout input.
    timeouts: [Instant; 2],
    /// Data packets received, in order.
    pub received: Vec<proto::DataPacket>,
    /// Signal messages other than offers and answers, in order.
    pub signals: Vec<Response>,
}

const PUBLISHER: usize = 0;
const SUBSCRIBER: usize = 1;

fn new_rtc(now: Instant, local: SocketAddr) -> Rtc {
    let mut rtc = Rtc::builder().build(now);
    let candidate = Candidate::host(local, Protocol::Udp).expect("host candidate");
    rtc.add_local_candidate(candidate);
    rtc
}

impl RtcPeer {
    /// Joins with `token` and waits until the subscriber connection is up.
    pub async fn join(sfu: &confab_sfu::RunningSfu, token: &str) -> Self {
        let mut ws = connect(sfu, token).await.expect("upgrade");
        let join = match super::next_any(&mut ws).await {
            Response::Join(join) => join,
            other => panic!("first message was not join: {other:?}"),
        };
        let udp = [
            UdpSocket::bind("127.0.0.1:0").await.expect("udp"),
            UdpSocket::bind("127.0.0.1:0").await.expect("udp"),
        ];
        let publisher_address = udp[PUBLISHER].local_addr().expect("local addr");
        let subscriber_address = udp[SUBSCRIBER].local_addr().expect("local addr");
        let now = Instant::now();
        let mut peer = Self {
            ws,
            join,
            udp,
            publisher: new_rtc(now, publisher_address),
            subscriber: new_rtc(now, subscriber_address),
            pending_offer: None,
            publisher_channels: HashMap::new(),
            subscriber_connected: false,
            timeouts: [now; 2],
            received: Vec::new(),
            signals: Vec::new(),
        };
        peer.run_until("the subscriber connection", |p| p.subscriber_connected)
            .await;
        peer
    }

    /// Drops the signalling connection without a leave, as a network change does, and resumes
    /// with `reconnect=1`: returns the first message the server sent on the new connection.
    pub async fn lose_and_resume_signalling(
        &mut self,
        sfu: &confab_sfu::RunningSfu,
        token: &str,
    ) -> Response {
        let _ = self.ws.close(None).await;
        let query = format!("&reconnect=1&sid={}", self.sid());
        self.ws = connect_with(sfu, token, &query).await.expect("upgrade");
        super::next_any(&mut self.ws).await
    }

    pub fn sid(&self) -> &str {
        self.join
            .participant
            .as_ref()
            .map_or("", |p| p.sid.as_str())
    }

    /// Opens the publisher connection with LiveKit's two data channels.
    pub async fn open_data_channels(&mut self) {
        let mut api = self.publisher.sdp_api();
        api.add_channel_with_config(ChannelConfig {
            label: "_reliable".into(),
            ..Default::default()
        });
        api.add_channel_with_config(ChannelConfig {
            label: "_lossy".into(),
            ordered: false,
            reliability: Reliability::MaxRetransmits { retransmits: 0 },
            ..Default::default()
        });
        let (offer, pending) = api.apply().expect("an offer");
        self.pending_offer = Some(pending);
        send(
            &mut self.ws,
            Request::Offer(proto::SessionDescription {
                r#type: "offer".into(),
                sdp: offer.to_sdp_string(),
                id: 1,
                ..Default::default()
            }),
        )
        .await;
        self.run_until("the publisher data channels", |p| {
            p.publisher_channels.contains_key("_reliable")
                && p.publisher_channels.contains_key("_lossy")
        })
        .await;
    }

    /// Writes raw bytes on one of our publisher data channels.
    pub fn send_raw(&mut self, label: &str, bytes: &[u8]) {
        let id = self.publisher_channels[label];
        let mut channel = self.publisher.channel(id).expect("open channel");
        assert!(channel.write(true, bytes).expect("write"), "channel full");
    }

    pub fn send_data(&mut self, label: &str, packet: &proto::DataPacket) {
        self.send_raw(label, &packet.encode_to_vec());
    }

    /// Whether everything written on `label` has been acknowledged by the server (SCTP), i.e.
    /// the server has processed it.
    pub fn delivered(&mut self, label: &str) -> bool {
        let id = self.publisher_channels[label];
        self.publisher
            .channel(id)
            .is_some_and(|mut channel| channel.buffered_amount() == 0)
    }

    /// Drives signalling, UDP and timers until `done` holds (panics after the deadline).
    pub async fn run_until(&mut self, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut publisher_buffer = vec![0u8; 2048];
        let mut subscriber_buffer = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            // A timeout input is always allowed; giving one each round also starts ICE on a
            // fresh connection, which str0m only begins checking on a timeout.
            for rtc in [&mut self.publisher, &mut self.subscriber] {
                rtc.handle_input(Input::Timeout(now)).expect("timeout");
            }
            self.drain(now).await;
            if done(self) {
                return;
            }
            let timeout = self.timeouts.into_iter().min().unwrap_or(now + DEADLINE);
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::select! {
                frame = self.ws.next() => self.on_frame(frame).await,
                received = self.udp[PUBLISHER].recv_from(&mut publisher_buffer) => {
                    let (length, source) = received.expect("udp receive");
                    self.on_datagram(PUBLISHER, source, &publisher_buffer[..length]);
                }
                received = self.udp[SUBSCRIBER].recv_from(&mut subscriber_buffer) => {
                    let (length, source) = received.expect("udp receive");
                    self.on_datagram(SUBSCRIBER, source, &subscriber_buffer[..length]);
                }
                () = tokio::time::sleep_until(timeout.into()) => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let Some(Ok(Message::Binary(bytes))) = frame else {
            return;
        };
        let Some(message) = proto::SignalResponse::decode(bytes)
            .expect("protobuf")
            .message
        else {
            return;
        };
        match message {
            Response::Offer(offer) => {
                let parsed = SdpOffer::from_sdp_string(&offer.sdp).expect("offer sdp");
                let answer = self
                    .subscriber
                    .sdp_api()
                    .accept_offer(parsed)
                    .expect("accept offer");
                send(
                    &mut self.ws,
                    Request::Answer(proto::SessionDescription {
                        r#type: "answer".into(),
                        sdp: answer.to_sdp_string(),
                        id: offer.id,
                        ..Default::default()
                    }),
                )
                .await;
            }
            Response::Answer(answer) => {
                let parsed = SdpAnswer::from_sdp_string(&answer.sdp).expect("answer sdp");
                let pending = self.pending_offer.take().expect("an offer was sent");
                self.publisher
                    .sdp_api()
                    .accept_answer(pending, parsed)
                    .expect("accept answer");
            }
            other => self.signals.push(other),
        }
    }

    fn on_datagram(&mut self, index: usize, source: SocketAddr, contents: &[u8]) {
        let Ok(local) = self.udp[index].local_addr() else {
            return;
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, local, contents) else {
            return;
        };
        let input = Input::Receive(Instant::now(), receive);
        let rtc = if index == PUBLISHER {
            &mut self.publisher
        } else {
            &mut self.subscriber
        };
        rtc.handle_input(input).expect("input");
    }

    /// Polls both connections until they only report a timeout: sends their datagrams and
    /// records their events.
    async fn drain(&mut self, _now: Instant) {
        for (index, is_publisher) in [(PUBLISHER, true), (SUBSCRIBER, false)] {
            loop {
                let rtc = if is_publisher {
                    &mut self.publisher
                } else {
                    &mut self.subscriber
                };
                match rtc.poll_output().expect("poll") {
                    Output::Timeout(at) => {
                        self.timeouts[index] = at;
                        break;
                    }
                    Output::Transmit(transmit) => {
                        let _ = self.udp[index]
                            .send_to(&transmit.contents, transmit.destination)
                            .await;
                    }
                    Output::Event(event) => self.on_event(is_publisher, event),
                }
            }
        }
    }

    fn on_event(&mut self, is_publisher: bool, event: Event) {
        match event {
            Event::Connected if !is_publisher => self.subscriber_connected = true,
            Event::ChannelOpen(id, label) if is_publisher => {
                self.publisher_channels.insert(label, id);
            }
            Event::ChannelData(data) => {
                let packet = proto::DataPacket::decode(data.data.as_slice()).expect("packet");
                self.received.push(packet);
            }
            _ => {}
        }
    }
}

impl Drop for RtcPeer {
    fn drop(&mut self) {
        self.publisher.disconnect();
        self.subscriber.disconnect();
    }
}

/// Sends `bytes` to the SFU's media port from a fresh socket (hostile traffic).
pub async fn send_garbage(media: SocketAddr, datagrams: &[&[u8]]) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    for datagram in datagrams {
        socket.send_to(datagram, media).await.expect("send");
    }
}
