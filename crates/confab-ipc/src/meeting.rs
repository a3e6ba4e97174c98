//! The meeting part of the shell ⇄ UI contract: what the UI asks for (arguments of the meeting
//! commands) and what it renders (a [`MeetingUpdate`] stream the UI pulls with
//! `meeting_updates`). Video never travels here: tiles read frames from the frame channel
//! ([`FrameChannel`]).

use serde::{Deserialize, Serialize};

use crate::MeetingCode;

/// `host_meeting`: open a meeting on this computer (or on the LiveKit server set up in
/// Settings) and enter it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostArgs {
    pub name: String,
    pub title: String,
    pub waiting_room: bool,
    pub media: MediaChoice,
    /// On the hosting server of the profile rather than this computer.
    #[serde(default)]
    pub on_server: bool,
}

/// `join_meeting`: ask to join by code (and the host's address, from an invitation link;
/// without it the LAN is searched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinArgs {
    pub code: MeetingCode,
    pub host: Option<String>,
    pub name: String,
    pub media: MediaChoice,
}

/// Whether to start with the camera and the microphone on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaChoice {
    pub camera: bool,
    pub microphone: bool,
}

/// The meeting we are in, as `host_meeting` and `join_meeting` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingInfo {
    pub code: MeetingCode,
    pub title: String,
    /// `confab://join/…` to share (hosts).
    pub invite: Option<String>,
    pub identity: String,
    pub is_host: bool,
    pub waiting: bool,
}

/// One person in the meeting, as a tile and the participants panel show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantView {
    pub identity: String,
    pub name: String,
    pub is_local: bool,
    pub is_host: bool,
    /// Their camera's track, when published and not muted.
    pub camera: Option<String>,
    pub screen: Option<String>,
    /// Their microphone's track, when published.
    pub microphone: Option<String>,
    pub microphone_muted: bool,
    pub speaking: bool,
    pub hand_raised: bool,
    /// Their latest reaction.
    pub reaction: Option<ReactionView>,
    /// Their connection as the server rates it.
    pub quality: Quality,
}

/// A reaction and when this app saw it (Unix milliseconds by this computer's clock), so a tile
/// shows it for a moment after it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionView {
    pub emoji: String,
    pub seen_at: i64,
}

/// A connection's quality as the server rates it (LiveKit's scale); unknown until it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Quality {
    #[default]
    Unknown,
    Excellent,
    Good,
    Poor,
    Lost,
}

/// A chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLine {
    pub id: String,
    pub from: String,
    pub from_name: String,
    pub text: String,
    pub private: bool,
    /// Unix milliseconds.
    pub timestamp: i64,
}

/// A screen or a window the user may share, as the share picker lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareTargetView {
    /// What `start_share` takes: `screen:0`, `window:0x…`, `portal:screen`.
    pub id: String,
    /// True for a whole screen, false for one window.
    pub is_screen: bool,
    /// "Entire screen" or the window's title.
    pub name: String,
    pub width: u32,
    pub height: u32,
}

/// A meeting a host on the LAN lists, for the home screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NearbyMeeting {
    pub title: String,
    pub code: MeetingCode,
    /// The host's address (`host:port`), to join at.
    pub host: String,
}

/// Someone in the waiting room (hosts see them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingGuestView {
    pub identity: String,
    pub name: String,
    pub waiting_seconds: u64,
}

/// A file on its way, in or out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferView {
    pub id: String,
    /// The file's name (as saved, for one received).
    pub name: String,
    /// Who sent it (us for an outgoing one).
    pub from_name: String,
    pub outgoing: bool,
    pub bytes: u64,
    pub total: Option<u64>,
    pub state: TransferState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum TransferState {
    Active,
    /// Sent, or received and saved at `path` (its SHA-256 checked when the sender gave one).
    Done {
        path: Option<String>,
    },
    Failed {
        message: String,
    },
}

/// What changed, in order. The UI keeps the latest of each and renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MeetingUpdate {
    /// We wait for a host.
    Waiting,
    /// A host let us in.
    Admitted,
    /// Everyone now (us first).
    Participants {
        participants: Vec<ParticipantView>,
    },
    Chat {
        line: ChatLine,
    },
    /// For hosts: who waits now.
    WaitingRoom {
        guests: Vec<WaitingGuestView>,
        locked: bool,
        waiting_room: bool,
    },
    /// A file transfer's progress (the latest update per `id` is its state).
    Transfer {
        transfer: TransferView,
    },
    /// The connection dropped and is being restored, or is back.
    Reconnecting {
        reconnecting: bool,
    },
    /// The meeting is over for us; the message says why.
    Ended {
        message: String,
    },
}

/// `meeting_updates`' answer: updates after `after`, and the sequence number to ask after next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBatch {
    pub updates: Vec<MeetingUpdate>,
    pub next: u64,
}

/// Where tiles fetch decoded frames: `ws://127.0.0.1:<port>/frames/<track>?token=…&width=…&height=…`,
/// a binary [`FrameHeader`] followed by the I420 planes per message, newest frame only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameChannel {
    pub base_url: String,
    pub token: String,
}

impl FrameChannel {
    /// The URL of one track's frames at (at most) the size its tile shows.
    pub fn track_url(&self, track: &str, width: u32, height: u32) -> String {
        format!(
            "{}/frames/{track}?token={}&width={width}&height={height}",
            self.base_url, self.token
        )
    }
}

/// The header in front of each frame on the frame channel: `CFB2`, then width, height, the
/// size the frame was decoded at (before scaling to the tile: which simulcast layer came), and
/// the test pattern's frame counter (or `u32::MAX` when the frame carries no stamp), each a
/// little-endian `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub width: u32,
    pub height: u32,
    pub source_width: u32,
    pub source_height: u32,
    pub counter: Option<u32>,
}

impl FrameHeader {
    pub const MAGIC: [u8; 4] = *b"CFB2";
    pub const LEN: usize = 24;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut bytes = [0u8; Self::LEN];
        bytes[..4].copy_from_slice(&Self::MAGIC);
        let words = [
            self.width,
            self.height,
            self.source_width,
            self.source_height,
            self.counter.unwrap_or(u32::MAX),
        ];
        for (index, word) in words.iter().enumerate() {
            bytes[4 + 4 * index..8 + 4 * index].copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// The header of a message, if it is a frame of the size the header announces.
    pub fn decode(message: &[u8]) -> Option<Self> {
        Self::read(message).filter(|header| header.fits(message.len()))
    }

    /// The header at the start of `bytes` (its first [`Self::LEN`] bytes), unchecked against
    /// the message's length.
    pub fn read(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .and_then(|bytes| bytes.try_into().ok())
                .map(u32::from_le_bytes)
        };
        if bytes.get(..4)? != Self::MAGIC {
            return None;
        }
        Some(Self {
            width: word(4)?,
            height: word(8)?,
            source_width: word(12)?,
            source_height: word(16)?,
            counter: Some(word(20)?).filter(|counter| *counter != u32::MAX),
        })
    }

    /// Whether a message of `message_len` bytes holds exactly this frame.
    pub fn fits(&self, message_len: usize) -> bool {
        self.planes_len()
            .is_some_and(|planes| message_len == Self::LEN + planes)
    }

    /// The bytes of the I420 planes that follow.
    pub fn planes_len(&self) -> Option<usize> {
        let (width, height) = (self.width as usize, self.height as usize);
        if width == 0 || height == 0 || width > 8192 || height > 8192 {
            return None;
        }
        let chroma = width.div_ceil(2) * height.div_ceil(2);
        Some(width * height + 2 * chroma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_round_trip_and_check_the_size() {
        let header = FrameHeader {
            width: 4,
            height: 2,
            source_width: 8,
            source_height: 4,
            counter: Some(7),
        };
        let mut message = header.encode().to_vec();
        message.extend(vec![0u8; 8 + 2 * 2]);
        assert_eq!(FrameHeader::decode(&message), Some(header));
        message.pop();
        assert_eq!(FrameHeader::decode(&message), None, "a short frame");
        let unstamped = FrameHeader {
            counter: None,
            ..header
        };
        let mut message = unstamped.encode().to_vec();
        message.extend(vec![0u8; 12]);
        assert_eq!(FrameHeader::decode(&message), Some(unstamped));
        assert_eq!(FrameHeader::decode(b"nope"), None);
    }

    #[test]
    fn updates_are_tagged_for_the_ui() {
        let json = serde_json::to_value(MeetingUpdate::Ended {
            message: "The host ended the meeting".into(),
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"type": "ended", "message": "The host ended the meeting"})
        );
    }

    #[test]
    fn track_urls_carry_the_token_and_size() {
        let channel = FrameChannel {
            base_url: "ws://127.0.0.1:5000".into(),
            token: "t0k".into(),
        };
        assert_eq!(
            channel.track_url("TR_a", 640, 360),
            "ws://127.0.0.1:5000/frames/TR_a?token=t0k&width=640&height=360"
        );
    }
}
