//! Tracks as the room's user handles them: a [`LocalTrack`] takes encoded frames to publish and
//! tells the encoder what the network and the subscribers want; a [`RemoteTrack`] hands out the
//! encoded frames of a subscribed track.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::RoomError;
use super::engine::{Command, send_command};
pub use super::events::{TrackKind, TrackSource};

/// Simulcast layers, lowest first, as LiveKit names them (`q`, `h`, `f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Low,
    Medium,
    High,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::Low, Layer::Medium, Layer::High];

    /// The RTP stream id LiveKit's SDKs use for this layer.
    pub fn rid(self) -> &'static str {
        match self {
            Layer::Low => "q",
            Layer::Medium => "h",
            Layer::High => "f",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One simulcast layer of a video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSpec {
    pub layer: Layer,
    pub width: u32,
    pub height: u32,
    /// The most this layer may use.
    pub max_bitrate_bps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
}

/// What to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackOptions {
    pub name: String,
    pub source: TrackSource,
    pub kind: TrackOptionsKind,
    /// Start muted (announced as muted; frames are not sent until unmuted).
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackOptionsKind {
    Audio {
        /// Discontinuous transmission: the encoder sends little during silence.
        dtx: bool,
        /// Ask for RED (redundant audio) when the server allows it.
        red: bool,
    },
    Video {
        codec: VideoCodec,
        width: u32,
        height: u32,
        /// One entry per simulcast layer, lowest first; one entry means no simulcast.
        layers: Vec<LayerSpec>,
        /// Screen content: favour detail over motion.
        detail: bool,
    },
}

impl TrackOptions {
    pub fn microphone() -> Self {
        Self {
            name: "microphone".into(),
            source: TrackSource::Microphone,
            kind: TrackOptionsKind::Audio {
                dtx: true,
                red: true,
            },
            muted: false,
        }
    }

    /// A 1280×720 camera in LiveKit's three default simulcast layers.
    pub fn camera(codec: VideoCodec) -> Self {
        Self {
            name: "camera".into(),
            source: TrackSource::Camera,
            kind: TrackOptionsKind::Video {
                codec,
                width: 1280,
                height: 720,
                layers: vec![
                    LayerSpec {
                        layer: Layer::Low,
                        width: 320,
                        height: 180,
                        max_bitrate_bps: 150_000,
                    },
                    LayerSpec {
                        layer: Layer::Medium,
                        width: 640,
                        height: 360,
                        max_bitrate_bps: 500_000,
                    },
                    LayerSpec {
                        layer: Layer::High,
                        width: 1280,
                        height: 720,
                        max_bitrate_bps: 1_700_000,
                    },
                ],
                detail: false,
            },
            muted: false,
        }
    }

    /// The camera with LiveKit's layers up to `top` only, sent at `top`'s size (a lighter
    /// camera for a weak machine or network).
    pub fn camera_up_to(codec: VideoCodec, top: Layer) -> Self {
        let mut options = Self::camera(codec);
        if let TrackOptionsKind::Video {
            width,
            height,
            layers,
            ..
        } = &mut options.kind
        {
            layers.retain(|spec| spec.layer <= top);
            if let Some(highest) = layers.last() {
                (*width, *height) = (highest.width, highest.height);
            }
        }
        options
    }

    /// A camera of `width`×`height` in one layer (no simulcast; announced as the high layer,
    /// as a screen share's is), with the bitrate of LiveKit's layer of about that size.
    pub fn camera_sized(codec: VideoCodec, width: u32, height: u32) -> Self {
        let mut options = Self::camera(codec);
        if let TrackOptionsKind::Video {
            width: sent_width,
            height: sent_height,
            layers,
            ..
        } = &mut options.kind
        {
            let nearest = layers
                .iter()
                .find(|spec| spec.width >= width || spec.height >= height)
                .or(layers.last())
                .map(|spec| spec.max_bitrate_bps);
            if let Some(max_bitrate_bps) = nearest {
                *layers = vec![LayerSpec {
                    layer: Layer::High,
                    width,
                    height,
                    max_bitrate_bps,
                }];
            }
            (*sent_width, *sent_height) = (width, height);
        }
        options
    }

    /// A screen share of `width`×`height`, one layer, tuned for text. H.264 codes whole 2×2
    /// chroma blocks, so an odd size (a 1366×767 window) is sent one row or column smaller.
    pub fn screen_share(codec: VideoCodec, width: u32, height: u32) -> Self {
        let (width, height) = match codec {
            VideoCodec::Vp8 => (width, height),
            VideoCodec::H264 => ((width & !1).max(2), (height & !1).max(2)),
        };
        Self {
            name: "screen".into(),
            source: TrackSource::ScreenShare,
            kind: TrackOptionsKind::Video {
                codec,
                width,
                height,
                layers: vec![LayerSpec {
                    layer: Layer::High,
                    width,
                    height,
                    max_bitrate_bps: 3_000_000,
                }],
                detail: true,
            },
            muted: false,
        }
    }

    pub fn kind(&self) -> TrackKind {
        match self.kind {
            TrackOptionsKind::Audio { .. } => TrackKind::Audio,
            TrackOptionsKind::Video { .. } => TrackKind::Video,
        }
    }
}

/// One encoded frame to publish.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    pub data: Vec<u8>,
    /// Media time since the track started (drives the RTP timestamp).
    pub timestamp: Duration,
    /// When the frame was captured (drives RTCP sender reports, i.e. lip sync).
    pub captured_at: Instant,
    /// The simulcast layer; `None` for audio and single-layer video.
    pub layer: Option<Layer>,
    /// Audio level in −dBov (0 loudest, 127 silence) for the audio-level extension.
    pub audio_level: Option<u8>,
}

/// What the network and the subscribers ask of a local track's encoder. Watch it and adapt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherFeedback {
    /// Increments on each keyframe request (PLI/FIR) from the server: encode a keyframe next.
    pub keyframe_requests: u64,
    /// Which simulcast layers someone subscribes to; paused layers should not be encoded.
    pub active_layers: [bool; 3],
    /// The send-side bandwidth estimate for all our video, in bits per second.
    pub available_bitrate_bps: u64,
    /// The track is muted (by us, or by a host): nothing it encodes would be sent, so the
    /// encoder should rest until it is unmuted.
    pub muted: bool,
    /// The video codec the server accepted for this track, once it has answered: the one asked
    /// for, or the other when the server refused it. The encoder must produce this one.
    pub codec: Option<VideoCodec>,
}

impl Default for PublisherFeedback {
    fn default() -> Self {
        Self {
            keyframe_requests: 0,
            active_layers: [true; 3],
            available_bitrate_bps: 0,
            muted: false,
            codec: None,
        }
    }
}

/// A published track. Frames go out through [`LocalTrack::send`].
#[derive(Debug, Clone)]
pub struct LocalTrack {
    pub(super) sid: watch::Receiver<String>,
    pub(super) cid: String,
    pub(super) kind: TrackKind,
    pub(super) frames: mpsc::Sender<(String, EncodedFrame)>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) feedback: watch::Receiver<PublisherFeedback>,
}

impl LocalTrack {
    /// The server's id for this track (a new one after a rejoin).
    pub fn sid(&self) -> String {
        self.sid.borrow().clone()
    }

    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    /// Queues one encoded frame. Waits when the engine is behind; fails once the room is gone.
    pub async fn send(&self, frame: EncodedFrame) -> Result<(), RoomError> {
        self.frames
            .send((self.cid.clone(), frame))
            .await
            .map_err(|_| RoomError::Closed)
    }

    /// Mutes or unmutes: everyone sees the state, and no frames leave while muted.
    pub async fn set_muted(&self, muted: bool) -> Result<(), RoomError> {
        send_command(
            &self.commands,
            Command::SetMuted {
                cid: self.cid.clone(),
                muted,
            },
        )
        .await
    }

    /// Stops publishing: everyone sees the track go; frames sent afterwards are dropped.
    pub async fn unpublish(&self) -> Result<(), RoomError> {
        send_command(
            &self.commands,
            Command::Unpublish {
                cid: self.cid.clone(),
            },
        )
        .await
    }

    /// What the encoder should do: keyframes, layers, bitrate.
    pub fn feedback(&self) -> watch::Receiver<PublisherFeedback> {
        self.feedback.clone()
    }
}

/// What a subscriber wants of a remote track (LiveKit's `UpdateTrackSettings`): the UI asks
/// for the size it shows, or pauses a track nobody sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionSettings {
    /// Stop sending this track for now (the subscription stays).
    Paused,
    /// The simulcast layer to receive.
    Layer(Layer),
    /// The size it is shown at; the server picks the layer that fits.
    Size { width: u32, height: u32 },
}

impl SubscriptionSettings {
    pub(super) fn to_request(self, track_sid: String) -> livekit_protocol::UpdateTrackSettings {
        use livekit_protocol::VideoQuality;
        let mut request = livekit_protocol::UpdateTrackSettings {
            track_sids: vec![track_sid],
            ..Default::default()
        };
        match self {
            Self::Paused => request.disabled = true,
            Self::Layer(layer) => {
                request.quality = match layer {
                    Layer::Low => VideoQuality::Low,
                    Layer::Medium => VideoQuality::Medium,
                    Layer::High => VideoQuality::High,
                } as i32;
            }
            Self::Size { width, height } => {
                request.width = width;
                request.height = height;
            }
        }
        request
    }
}

/// The codec a remote frame is in, so a receiver picks its decoder per frame (a publisher
/// may switch codecs, e.g. a backup codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCodec {
    Opus,
    Vp8,
    Vp9,
    H264,
    Av1,
    Other,
}

impl From<str0m::format::Codec> for FrameCodec {
    fn from(codec: str0m::format::Codec) -> Self {
        use str0m::format::Codec;
        match codec {
            Codec::Opus => Self::Opus,
            Codec::Vp8 => Self::Vp8,
            Codec::Vp9 => Self::Vp9,
            Codec::H264 => Self::H264,
            Codec::Av1 => Self::Av1,
            _ => Self::Other,
        }
    }
}

/// One encoded frame of a remote track.
#[derive(Debug, Clone)]
pub struct RemoteFrame {
    pub data: Arc<[u8]>,
    pub codec: FrameCodec,
    /// RTP timestamp (48 kHz for audio, 90 kHz for video).
    pub rtp_time: u64,
    pub received_at: Instant,
    /// `false` after a gap: a video decoder may need the next keyframe.
    pub contiguous: bool,
    /// The simulcast layer it came from, when the server says.
    pub layer: Option<Layer>,
}

/// Asks for a subscribed track's layer or size (see [`RemoteTrack::control`]).
#[derive(Debug, Clone)]
pub struct TrackControl {
    sid: String,
    commands: mpsc::Sender<Command>,
}

impl TrackControl {
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Asks for a layer or size, or pauses the track.
    pub async fn set_settings(&self, settings: SubscriptionSettings) -> Result<(), RoomError> {
        send_command(
            &self.commands,
            Command::TrackSettings {
                track_sid: self.sid.clone(),
                settings,
            },
        )
        .await
    }
}

/// A subscribed remote track: its frames arrive on [`RemoteTrack::recv`]. Dropping it
/// unsubscribes: the server is asked to stop sending it, and it is not announced again
/// unless [`crate::Room`]'s subscribe asks for it.
#[derive(Debug)]
pub struct RemoteTrack {
    pub(super) sid: String,
    pub(super) kind: TrackKind,
    pub(super) frames: mpsc::Receiver<RemoteFrame>,
    pub(super) commands: mpsc::Sender<Command>,
}

impl RemoteTrack {
    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    /// The next frame; `None` once the track is unsubscribed or the room is gone.
    pub async fn recv(&mut self) -> Option<RemoteFrame> {
        self.frames.recv().await
    }

    /// Asks for a layer or size, or pauses the track.
    pub async fn set_settings(&self, settings: SubscriptionSettings) -> Result<(), RoomError> {
        self.control().set_settings(settings).await
    }

    /// A handle that asks for this track's layer or size from elsewhere (while the track
    /// itself is with its decoder).
    pub fn control(&self) -> TrackControl {
        TrackControl {
            sid: self.sid.clone(),
            commands: self.commands.clone(),
        }
    }

    /// Asks the publisher for a keyframe (after a decoder error).
    pub async fn request_keyframe(&self) -> Result<(), RoomError> {
        send_command(
            &self.commands,
            Command::RequestKeyframe {
                track_sid: self.sid.clone(),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lighter_camera_keeps_the_layers_up_to_its_top_and_is_sent_at_that_size() {
        let sizes = |options: &TrackOptions| match &options.kind {
            TrackOptionsKind::Video {
                width,
                height,
                layers,
                ..
            } => (
                (*width, *height),
                layers.iter().map(|l| l.layer).collect::<Vec<_>>(),
            ),
            TrackOptionsKind::Audio { .. } => unreachable!("a camera is video"),
        };
        let medium = TrackOptions::camera_up_to(VideoCodec::Vp8, Layer::Medium);
        assert_eq!(
            sizes(&medium),
            ((640, 360), vec![Layer::Low, Layer::Medium])
        );
        let low = TrackOptions::camera_up_to(VideoCodec::Vp8, Layer::Low);
        assert_eq!(sizes(&low), ((320, 180), vec![Layer::Low]));
        assert_eq!(
            TrackOptions::camera_up_to(VideoCodec::Vp8, Layer::High),
            TrackOptions::camera(VideoCodec::Vp8)
        );
    }

    #[test]
    fn a_sized_camera_is_one_layer_with_the_bitrate_of_livekits_layer_of_its_size() {
        let camera = TrackOptions::camera_sized(VideoCodec::Vp8, 640, 360);
        let TrackOptionsKind::Video {
            width,
            height,
            layers,
            ..
        } = camera.kind
        else {
            unreachable!("a camera is video");
        };
        assert_eq!((width, height), (640, 360));
        assert_eq!(
            layers,
            [LayerSpec {
                layer: Layer::High,
                width: 640,
                height: 360,
                max_bitrate_bps: 500_000
            }]
        );
    }
}
