//! One str0m peer connection of a participant and the rules for driving it: every change is
//! followed by draining its output, datagrams go to the caller, events are returned in order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::net::Protocol;
use str0m::{Candidate, Event, Input, Output, Rtc};

/// A datagram for the socket bound to `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// SCTP data a peer connection may buffer: enough for a burst of 15 KiB file chunks without
/// holding up the sender.
const SCTP_BUFFER_BYTES: usize = 4 << 20;

/// How often str0m reports loss and round-trip time (for connection quality).
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// The peer connections of a participant, as LiveKit's SDKs name them (from the client's side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client sends on it: the client offers, the server answers.
    Publisher,
    /// The client receives on it: the server offers.
    Subscriber,
}

/// A peer connection with its next wake-up time and the labels of its open data channels.
pub struct Transport {
    pub rtc: Rtc,
    pub next_timeout: Instant,
    pub channels: HashMap<ChannelId, String>,
    /// Set once str0m reports an error: the connection is no longer driven.
    pub failed: bool,
    /// ICE and DTLS came up at least once.
    pub connected: bool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("next_timeout", &self.next_timeout)
            .field("channels", &self.channels)
            .field("failed", &self.failed)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

/// How many due timeouts one drain runs before leaving the rest to the timer task (bounds the
/// loop should str0m keep reporting work due).
const MAX_IMMEDIATE_TIMEOUTS: u32 = 4;

/// The mime types the SFU accepts from publishers, announced in the JoinResponse so clients
/// fall back from codecs it cannot forward (VP9, AV1). Keep in step with [`Transport::new`].
pub const PUBLISH_CODECS: [&str; 4] = ["audio/opus", "audio/red", "video/VP8", "video/H264"];

impl Transport {
    /// An ICE-lite peer connection that offers the codecs LiveKit clients publish (Opus with
    /// RED, VP8, H.264; see [`PUBLISH_CODECS`]) and is reachable on `candidates`.
    ///
    /// RED (RFC 2198) is terminated per leg: str0m recovers lost Opus packets from a
    /// publisher's redundancy and adds fresh redundancy towards each subscriber that accepted
    /// `audio/red`; subscribers that did not (Firefox) get plain Opus.
    pub fn new(now: Instant, candidates: &[SocketAddr]) -> Self {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, true)
            .enable_vp8(true)
            .enable_h264(true)
            .set_sctp_max_buffered_amount(SCTP_BUFFER_BYTES)
            .set_stats_interval(Some(STATS_INTERVAL))
            .build(now);
        for address in candidates {
            match Candidate::host(*address, Protocol::Udp) {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(error) => tracing::warn!(%address, %error, "unusable media address"),
            }
        }
        Self {
            rtc,
            next_timeout: now,
            channels: HashMap::new(),
            failed: false,
            connected: false,
        }
    }

    /// Drains str0m's output after a change: datagrams are appended to `datagrams`, events
    /// returned. A str0m error marks the connection failed.
    ///
    /// str0m queues written media and releases it on its next timeout, which it reports as
    /// due at once. Running that timeout here sends the packets in the same pass instead of
    /// a timer task wake-up (and a second lock) per forwarded frame.
    pub fn drain(&mut self, now: Instant, datagrams: &mut Vec<Datagram>) -> Vec<Event> {
        let mut events = Vec::new();
        if self.failed {
            return events;
        }
        let mut immediate_timeouts = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at))
                    if at <= now && immediate_timeouts < MAX_IMMEDIATE_TIMEOUTS =>
                {
                    immediate_timeouts += 1;
                    if let Err(error) = self.rtc.handle_input(Input::Timeout(now)) {
                        self.mark_failed(now, &error);
                        return events;
                    }
                }
                Ok(Output::Timeout(at)) => {
                    self.next_timeout = at;
                    return events;
                }
                Ok(Output::Transmit(transmit)) => datagrams.push(Datagram {
                    source: transmit.source,
                    destination: transmit.destination,
                    contents: transmit.contents.into(),
                }),
                Ok(Output::Event(event)) => {
                    match &event {
                        Event::ChannelOpen(id, label) => {
                            self.channels.insert(*id, label.clone());
                        }
                        Event::ChannelClose(id) => {
                            self.channels.remove(id);
                        }
                        Event::Connected => self.connected = true,
                        _ => {}
                    }
                    events.push(event);
                }
                Err(error) => {
                    self.mark_failed(now, &error);
                    return events;
                }
            }
        }
    }

    /// A str0m error ends the connection: it is skipped from now on.
    fn mark_failed(&mut self, now: Instant, error: &str0m::RtcError) {
        tracing::warn!(%error, "peer connection failed");
        self.failed = true;
        self.next_timeout = now + Duration::from_secs(3600);
    }

    /// The open data channel with `label`.
    pub fn channel_labelled(&self, label: &str) -> Option<ChannelId> {
        self.channels
            .iter()
            .find(|(_, l)| l.as_str() == label)
            .map(|(id, _)| *id)
    }

    pub fn is_alive(&self) -> bool {
        !self.failed && self.rtc.is_alive()
    }
}
