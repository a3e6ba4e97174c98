//! One str0m peer connection of a participant and the rules for driving it: every change is
//! followed by draining its output, datagrams go to the caller, events are returned in order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::net::Protocol;
use str0m::{Candidate, Event, Output, Rtc};

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

impl Transport {
    /// An ICE-lite peer connection that offers the codecs LiveKit clients publish (Opus, VP8,
    /// H.264) and is reachable on `candidates`.
    pub fn new(now: Instant, candidates: &[SocketAddr]) -> Self {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
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
    pub fn drain(&mut self, now: Instant, datagrams: &mut Vec<Datagram>) -> Vec<Event> {
        let mut events = Vec::new();
        if self.failed {
            return events;
        }
        loop {
            match self.rtc.poll_output() {
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
                    tracing::warn!(%error, "peer connection failed");
                    self.failed = true;
                    self.next_timeout = now + Duration::from_secs(3600);
                    return events;
                }
            }
        }
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
