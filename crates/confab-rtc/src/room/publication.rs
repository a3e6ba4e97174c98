//! A track we publish, as the engine keeps it: what to announce (`AddTrackRequest`), how to
//! negotiate it (codecs, simulcast layers) and how each encoded frame goes on the wire.

use std::mem::replace;

use livekit_protocol as proto;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt, Rid, Simulcast, SimulcastLayer};
use tokio::sync::watch;

use super::track::{
    EncodedFrame, Layer, PublisherFeedback, TrackOptions, TrackOptionsKind, VideoCodec,
};
use crate::transport::{OutgoingFrame, PeerTransport};

/// A track we publish.
#[derive(Debug)]
pub struct Published {
    pub sid: String,
    /// The sid as the [`LocalTrack`](super::track::LocalTrack) handle sees it (a rejoin
    /// changes it).
    pub sid_watch: watch::Sender<String>,
    pub cid: String,
    pub options: TrackOptions,
    pub mid: Option<Mid>,
    /// The payload type of the codec negotiated, found when the answer arrives.
    pub pt: Option<Pt>,
    pub muted: bool,
    /// The server confirmed the track in this session (`TrackPublishedResponse`); only then
    /// is it negotiated.
    pub confirmed: bool,
    pub feedback: watch::Sender<PublisherFeedback>,
}

impl Published {
    /// Mutes or unmutes the track here and tells its encoder (through the feedback).
    /// Returns whether anything changed.
    pub fn set_muted(&mut self, muted: bool) -> bool {
        if self.muted == muted {
            return false;
        }
        self.muted = muted;
        self.feedback.send_modify(|feedback| feedback.muted = muted);
        true
    }

    pub fn wanted_codecs(&self) -> &'static [Codec] {
        match self.options.kind {
            TrackOptionsKind::Audio { .. } => &[Codec::Opus],
            TrackOptionsKind::Video {
                codec: VideoCodec::Vp8,
                ..
            } => &[Codec::Vp8, Codec::H264],
            TrackOptionsKind::Video {
                codec: VideoCodec::H264,
                ..
            } => &[Codec::H264, Codec::Vp8],
        }
    }

    /// The payload type the answer gave this track (found once, then kept), telling the
    /// encoder through the feedback which video codec that is. `None` until negotiated.
    pub fn settle_payload_type(&mut self, transport: &mut PeerTransport) -> Option<Pt> {
        if let Some(pt) = self.pt {
            return Some(pt);
        }
        let (pt, codec) = transport.negotiated_pt(self.mid?, self.wanted_codecs())?;
        self.pt = Some(pt);
        let accepted = match codec {
            Codec::Vp8 => Some(VideoCodec::Vp8),
            Codec::H264 => Some(VideoCodec::H264),
            _ => None,
        };
        if accepted.is_some() {
            self.feedback
                .send_if_modified(|feedback| replace(&mut feedback.codec, accepted) != accepted);
        }
        Some(pt)
    }

    pub fn rtp_clock(&self) -> Frequency {
        match self.options.kind {
            TrackOptionsKind::Audio { .. } => Frequency::FORTY_EIGHT_KHZ,
            TrackOptionsKind::Video { .. } => Frequency::NINETY_KHZ,
        }
    }

    pub fn simulcast(&self) -> Option<Simulcast> {
        match &self.options.kind {
            TrackOptionsKind::Video { layers, .. } if layers.len() > 1 => Some(Simulcast {
                send: layers
                    .iter()
                    .map(|spec| SimulcastLayer::new(spec.layer.rid()))
                    .collect(),
                recv: Vec::new(),
            }),
            _ => None,
        }
    }

    pub fn max_bitrate_bps(&self) -> u64 {
        match &self.options.kind {
            TrackOptionsKind::Audio { .. } => 64_000,
            TrackOptionsKind::Video { layers, .. } => {
                layers.iter().map(|l| u64::from(l.max_bitrate_bps)).sum()
            }
        }
    }

    /// `frame` as the transport sends it: RTP time from the media clock, the layer's rid when
    /// simulcast, the audio level as −dBov.
    pub fn outgoing<'a>(&self, frame: &'a EncodedFrame) -> OutgoingFrame<'a> {
        let clock = self.rtp_clock();
        let ticks = frame.timestamp.as_micros() * u128::from(clock.get()) / 1_000_000;
        let rtp_time = MediaTime::new(u64::try_from(ticks).unwrap_or(u64::MAX), clock);
        let rid = match (&self.options.kind, frame.layer) {
            (TrackOptionsKind::Video { layers, .. }, Some(layer)) if layers.len() > 1 => {
                Some(Rid::from(layer.rid()))
            }
            _ => None,
        };
        OutgoingFrame {
            data: &frame.data,
            rid,
            wallclock: frame.captured_at,
            rtp_time,
            audio_level: frame
                .audio_level
                .map(|level| -i8::try_from(level.min(127)).unwrap_or(127)),
        }
    }
}

// `disable_dtx` is deprecated in favour of audio features but still what servers read.
#[allow(deprecated)]
pub fn add_track_request(cid: &str, options: &TrackOptions) -> proto::AddTrackRequest {
    let mut request = proto::AddTrackRequest {
        cid: cid.to_owned(),
        name: options.name.clone(),
        source: proto::TrackSource::from(options.source) as i32,
        muted: options.muted,
        ..Default::default()
    };
    match &options.kind {
        TrackOptionsKind::Audio { dtx, red } => {
            request.r#type = proto::TrackType::Audio as i32;
            request.disable_dtx = !dtx;
            request.disable_red = !red;
        }
        TrackOptionsKind::Video {
            codec,
            width,
            height,
            layers,
            ..
        } => {
            request.r#type = proto::TrackType::Video as i32;
            request.width = *width;
            request.height = *height;
            let video_layers: Vec<proto::VideoLayer> = layers
                .iter()
                .map(|spec| proto::VideoLayer {
                    quality: match spec.layer {
                        Layer::Low => proto::VideoQuality::Low,
                        Layer::Medium => proto::VideoQuality::Medium,
                        Layer::High => proto::VideoQuality::High,
                    } as i32,
                    width: spec.width,
                    height: spec.height,
                    bitrate: spec.max_bitrate_bps,
                    rid: if layers.len() > 1 {
                        spec.layer.rid().to_owned()
                    } else {
                        String::new()
                    },
                    ..Default::default()
                })
                .collect();
            request.simulcast_codecs = vec![proto::SimulcastCodec {
                codec: match codec {
                    VideoCodec::Vp8 => "vp8",
                    VideoCodec::H264 => "h264",
                }
                .into(),
                cid: cid.to_owned(),
                layers: video_layers.clone(),
                ..Default::default()
            }];
            request.layers = video_layers;
        }
    }
    request
}

/// The simulcast layers subscribers want, from a `SubscribedQualityUpdate`.
// Servers before 1.5 only fill the deprecated `subscribed_qualities`.
#[allow(deprecated)]
pub fn active_layers(update: &proto::SubscribedQualityUpdate) -> [bool; 3] {
    let qualities = if update.subscribed_qualities.is_empty() {
        update
            .subscribed_codecs
            .first()
            .map(|c| c.qualities.as_slice())
            .unwrap_or_default()
    } else {
        update.subscribed_qualities.as_slice()
    };
    let mut active = [false; 3];
    for quality in qualities {
        let layer = match quality.quality() {
            proto::VideoQuality::Low => Layer::Low,
            proto::VideoQuality::Medium => Layer::Medium,
            proto::VideoQuality::High => Layer::High,
            _ => continue,
        };
        active[layer.index()] = quality.enabled;
    }
    active
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn camera() -> Published {
        Published {
            sid: "TR_1".into(),
            sid_watch: watch::channel(String::new()).0,
            cid: "camera-1".into(),
            options: TrackOptions::camera(VideoCodec::Vp8),
            mid: None,
            pt: None,
            muted: false,
            confirmed: true,
            feedback: watch::channel(PublisherFeedback::default()).0,
        }
    }

    #[test]
    fn video_frames_carry_the_layer_rid_and_90_khz_time() {
        let frame = EncodedFrame {
            data: vec![0; 4],
            timestamp: Duration::from_secs(2),
            captured_at: Instant::now(),
            layer: Some(Layer::Medium),
            audio_level: None,
        };
        let outgoing = camera().outgoing(&frame);
        assert_eq!(outgoing.rid, Some(Rid::from("h")));
        assert_eq!(outgoing.rtp_time.numer(), 180_000);
        assert!(camera().simulcast().is_some_and(|s| s.send.len() == 3));
    }

    #[test]
    fn the_announcement_lists_the_layers_and_the_codec() {
        let request = add_track_request("camera-1", &TrackOptions::camera(VideoCodec::H264));
        assert_eq!(request.layers.len(), 3);
        assert_eq!(request.simulcast_codecs[0].codec, "h264");
        assert_eq!(request.simulcast_codecs[0].cid, "camera-1");
        assert_eq!(request.layers[2].rid, "f");
    }

    #[test]
    fn only_enabled_qualities_are_active() {
        let update = proto::SubscribedQualityUpdate {
            subscribed_codecs: vec![proto::SubscribedCodec {
                codec: "vp8".into(),
                qualities: vec![
                    proto::SubscribedQuality {
                        quality: proto::VideoQuality::Low as i32,
                        enabled: true,
                    },
                    proto::SubscribedQuality {
                        quality: proto::VideoQuality::High as i32,
                        enabled: false,
                    },
                ],
            }],
            ..Default::default()
        };
        assert_eq!(active_layers(&update), [true, false, false]);
    }
}
