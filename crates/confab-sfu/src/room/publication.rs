//! Tracks a participant announces (`add_track`) and publishes (its media arrives), with
//! LiveKit's rules for which sources a participant may publish.

use livekit_protocol as proto;

/// A track announced with `add_track` whose media has not arrived yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTrack {
    /// The client's id for the track: the msid track id in its SDP.
    pub cid: String,
    /// Further client ids, one per simulcast codec.
    pub codec_cids: Vec<String>,
    pub info: proto::TrackInfo,
}

impl PendingTrack {
    // `layers`, `simulcast`, `stereo` and `disable_dtx` are deprecated in the protocol but still
    // sent and read by the SDKs.
    #[allow(deprecated)]
    pub fn new(sid: String, request: &proto::AddTrackRequest) -> Self {
        let source = request.source;
        let kind = request.r#type;
        let stream = if request.stream.is_empty() {
            default_stream(source).to_owned()
        } else {
            request.stream.clone()
        };
        let mut codecs: Vec<proto::SimulcastCodecInfo> = request
            .simulcast_codecs
            .iter()
            .map(|codec| proto::SimulcastCodecInfo {
                mime_type: with_media_prefix(&codec.codec, kind),
                cid: codec.cid.clone(),
                layers: codec.layers.clone(),
                ..Default::default()
            })
            .collect();
        if codecs.is_empty() && kind == proto::TrackType::Audio as i32 {
            codecs.push(proto::SimulcastCodecInfo {
                mime_type: audio_codec(request).to_owned(),
                cid: request.cid.clone(),
                ..Default::default()
            });
        }
        // The answer puts the publisher's first codec first (`codec_preference`), so that is
        // the codec its media arrives in; SDKs show it as the publication's MIME type.
        let mime_type = codecs
            .first()
            .map(|codec| codec.mime_type.clone())
            .unwrap_or_default();
        let info = proto::TrackInfo {
            sid,
            mime_type,
            r#type: kind,
            name: request.name.clone(),
            muted: request.muted,
            width: request.width,
            height: request.height,
            simulcast: request.layers.len() > 1,
            disable_dtx: request.disable_dtx,
            source,
            layers: request.layers.clone(),
            codecs,
            stereo: request.stereo,
            disable_red: request.disable_red,
            encryption: request.encryption,
            stream,
            audio_features: request.audio_features.clone(),
            backup_codec_policy: request.backup_codec_policy,
            ..Default::default()
        };
        Self {
            cid: request.cid.clone(),
            codec_cids: request
                .simulcast_codecs
                .iter()
                .map(|codec| codec.cid.clone())
                .filter(|cid| !cid.is_empty())
                .collect(),
            info,
        }
    }

    fn answers_to(&self, cid: &str) -> bool {
        self.cid == cid || self.codec_cids.iter().any(|c| c == cid)
    }
}

/// Which pending track media with client id `cid` and `kind` belongs to: the one announced
/// with that cid, else the first announced track of the same kind (clients that do not put the
/// track id in their SDP), as `livekit-server` matches them.
pub fn match_pending(pending: &[PendingTrack], cid: &str, kind: proto::TrackType) -> Option<usize> {
    pending
        .iter()
        .position(|track| track.answers_to(cid))
        .or_else(|| {
            pending
                .iter()
                .position(|track| track.info.r#type == kind as i32)
        })
}

/// Whether `permission` lets a participant publish from `source`. An empty source list means
/// every source.
pub fn may_publish(permission: Option<&proto::ParticipantPermission>, source: i32) -> bool {
    let Some(permission) = permission else {
        return false;
    };
    permission.can_publish
        && (permission.can_publish_sources.is_empty()
            || permission.can_publish_sources.contains(&source))
}

/// Audio is published with RED (Opus plus the previous frame, RFC 2198) unless the client
/// turned it off or encrypts end to end (the SFU could not re-encode the redundancy then);
/// LiveKit clients leave that choice to the server's answer.
fn audio_codec(request: &proto::AddTrackRequest) -> &'static str {
    let encrypted = request.encryption != proto::encryption::Type::None as i32;
    if request.disable_red || encrypted {
        "audio/opus"
    } else {
        "audio/red"
    }
}

/// The stream name LiveKit gives a track when the client names none.
fn default_stream(source: i32) -> &'static str {
    use proto::TrackSource;
    match TrackSource::try_from(source) {
        Ok(TrackSource::ScreenShare | TrackSource::ScreenShareAudio) => "screen",
        _ => "camera",
    }
}

/// Codec names arrive as `vp8` or `video/VP8`; TrackInfo carries mime types.
fn with_media_prefix(codec: &str, kind: i32) -> String {
    if codec.contains('/') || codec.is_empty() {
        return codec.to_owned();
    }
    let media = if kind == proto::TrackType::Audio as i32 {
        "audio"
    } else {
        "video"
    };
    format!("{media}/{codec}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cid: &str, kind: proto::TrackType) -> proto::AddTrackRequest {
        proto::AddTrackRequest {
            cid: cid.into(),
            name: "cam".into(),
            r#type: kind as i32,
            source: proto::TrackSource::Camera as i32,
            ..Default::default()
        }
    }

    #[test]
    fn media_is_matched_by_cid_then_by_kind() {
        let pending = vec![
            PendingTrack::new("TR_a".into(), &request("mic", proto::TrackType::Audio)),
            PendingTrack::new("TR_v".into(), &request("cam", proto::TrackType::Video)),
        ];
        assert_eq!(
            match_pending(&pending, "cam", proto::TrackType::Video),
            Some(1)
        );
        assert_eq!(
            match_pending(&pending, "other", proto::TrackType::Audio),
            Some(0)
        );
        assert_eq!(
            match_pending(&pending[..1], "x", proto::TrackType::Video),
            None
        );
    }

    #[test]
    fn simulcast_codec_cids_match_too() {
        let mut add = request("cam", proto::TrackType::Video);
        add.simulcast_codecs = vec![proto::SimulcastCodec {
            codec: "vp8".into(),
            cid: "cam-vp8".into(),
            ..Default::default()
        }];
        let pending = vec![PendingTrack::new("TR_v".into(), &add)];
        assert_eq!(
            match_pending(&pending, "cam-vp8", proto::TrackType::Video),
            Some(0)
        );
        assert_eq!(pending[0].info.codecs[0].mime_type, "video/vp8");
        assert_eq!(
            pending[0].info.mime_type, "video/vp8",
            "the publication's codec"
        );
        assert_eq!(pending[0].info.stream, "camera");
    }

    #[test]
    fn audio_prefers_red_unless_disabled_or_encrypted() {
        let mut mic = request("mic", proto::TrackType::Audio);
        let codec = |add: &proto::AddTrackRequest| {
            let info = PendingTrack::new("TR_a".into(), add).info;
            assert_eq!(info.codecs.len(), 1);
            assert_eq!(info.codecs[0].cid, "mic");
            info.codecs[0].mime_type.clone()
        };
        assert_eq!(codec(&mic), "audio/red");
        mic.disable_red = true;
        assert_eq!(codec(&mic), "audio/opus");
        mic.disable_red = false;
        mic.encryption = proto::encryption::Type::Gcm as i32;
        assert_eq!(codec(&mic), "audio/opus");
    }

    #[test]
    fn sources_are_checked_against_the_grant() {
        let mut permission = proto::ParticipantPermission {
            can_publish: true,
            ..Default::default()
        };
        let camera = proto::TrackSource::Camera as i32;
        let screen = proto::TrackSource::ScreenShare as i32;
        assert!(may_publish(Some(&permission), screen));
        permission.can_publish_sources = vec![camera];
        assert!(may_publish(Some(&permission), camera));
        assert!(!may_publish(Some(&permission), screen));
        permission.can_publish = false;
        assert!(!may_publish(Some(&permission), camera));
        assert!(!may_publish(None, camera));
    }
}
