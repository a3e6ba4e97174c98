//! Dynacast: a publisher encodes only the simulcast layers someone receives. The SFU tells it
//! the best quality its subscribers want (`SubscribedQualityUpdate`, every layer up to that
//! one enabled; none when nobody watches), as `livekit-server` does: a better quality at once,
//! a worse one only after it held for [`DOWNGRADE_DELAY`], so a subscriber flicking between
//! layers, or leaving and coming back, does not make the publisher stop and restart layers.

use std::time::{Duration, Instant};

use livekit_protocol as proto;

/// How long a lower wanted quality must hold before the publisher is told (livekit-server's
/// default `dynacast_pause_delay`).
pub const DOWNGRADE_DELAY: Duration = Duration::from_secs(5);

/// The best quality subscribers want (LiveKit's `VideoQuality`: 0 low, 1 medium, 2 high), or
/// `None` when nobody receives the track. `None` orders below every quality.
pub type WantedQuality = Option<i32>;

/// What one simulcast track's publisher has been told, and a downgrade waiting to be told.
#[derive(Debug, Clone)]
pub struct Dynacast {
    told: WantedQuality,
    downgrade: Option<(WantedQuality, Instant)>,
}

impl Default for Dynacast {
    /// A publisher starts with every layer on.
    fn default() -> Self {
        Self {
            told: Some(proto::VideoQuality::High as i32),
            downgrade: None,
        }
    }
}

impl Dynacast {
    /// Subscribers now want `wanted`; returns what to tell the publisher now, if anything.
    pub fn want(&mut self, now: Instant, wanted: WantedQuality) -> Option<WantedQuality> {
        if wanted >= self.told {
            self.downgrade = None;
            if wanted == self.told {
                return None;
            }
            self.told = wanted;
            return Some(wanted);
        }
        // A downgrade keeps the time it was first wanted, whatever it becomes meanwhile.
        let since = self.downgrade.map_or(now, |(_, since)| since);
        self.downgrade = Some((wanted, since));
        None
    }

    /// A downgrade that has held long enough: what to tell the publisher now.
    pub fn due(&mut self, now: Instant) -> Option<WantedQuality> {
        let (wanted, since) = self.downgrade?;
        if now.saturating_duration_since(since) < DOWNGRADE_DELAY {
            return None;
        }
        self.downgrade = None;
        self.told = wanted;
        Some(wanted)
    }

    /// When [`Dynacast::due`] has something to tell.
    pub fn deadline(&self) -> Option<Instant> {
        self.downgrade.map(|(_, since)| since + DOWNGRADE_DELAY)
    }
}

/// The message telling a publisher that layers up to `wanted` are received, in both the
/// per-codec form current SDKs read and the older per-track one. The codec is named as
/// livekit-server names it there (`vp8`, `h264`: lower case, no `video/`); the browser SDK
/// compares it with its own codec name.
#[allow(deprecated)] // `subscribed_qualities`: what servers before 1.5 sent, still read.
pub fn quality_update(
    track_sid: &str,
    mime_type: &str,
    wanted: WantedQuality,
) -> proto::SubscribedQualityUpdate {
    let qualities: Vec<proto::SubscribedQuality> = [
        proto::VideoQuality::Low,
        proto::VideoQuality::Medium,
        proto::VideoQuality::High,
    ]
    .into_iter()
    .map(|quality| proto::SubscribedQuality {
        quality: quality as i32,
        enabled: wanted.is_some_and(|wanted| quality as i32 <= wanted),
    })
    .collect();
    proto::SubscribedQualityUpdate {
        track_sid: track_sid.to_owned(),
        subscribed_qualities: qualities.clone(),
        subscribed_codecs: vec![proto::SubscribedCodec {
            codec: codec_name(mime_type),
            qualities,
        }],
    }
}

/// `video/VP8` → `vp8`.
fn codec_name(mime_type: &str) -> String {
    let name = mime_type
        .get(..6)
        .filter(|prefix| prefix.eq_ignore_ascii_case("video/"))
        .map_or(mime_type, |_| &mime_type[6..]);
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: WantedQuality = Some(proto::VideoQuality::Low as i32);
    const HIGH: WantedQuality = Some(proto::VideoQuality::High as i32);

    #[test]
    fn upgrades_are_told_at_once_and_downgrades_once_they_held() {
        let start = Instant::now();
        let mut dynacast = Dynacast::default();
        assert_eq!(dynacast.want(start, HIGH), None, "already on");
        assert_eq!(dynacast.want(start, LOW), None, "a downgrade waits");
        assert_eq!(dynacast.deadline(), Some(start + DOWNGRADE_DELAY));
        let later = start + Duration::from_secs(1);
        assert_eq!(dynacast.want(later, None), None);
        assert_eq!(
            dynacast.deadline(),
            Some(start + DOWNGRADE_DELAY),
            "it keeps its first time"
        );
        assert_eq!(dynacast.due(later), None);
        assert_eq!(dynacast.due(start + DOWNGRADE_DELAY), Some(None));
        assert_eq!(dynacast.deadline(), None);
        assert_eq!(dynacast.want(later, LOW), Some(LOW), "an upgrade goes out");
    }

    #[test]
    fn wanting_again_what_was_told_cancels_a_downgrade() {
        let start = Instant::now();
        let mut dynacast = Dynacast::default();
        dynacast.want(start, None);
        assert_eq!(dynacast.want(start, HIGH), None);
        assert_eq!(dynacast.deadline(), None);
        assert_eq!(dynacast.due(start + DOWNGRADE_DELAY), None);
    }

    #[test]
    fn the_update_enables_every_layer_up_to_the_wanted_one() {
        let enabled = |wanted| {
            let update = quality_update("TR_a", "video/VP8", wanted);
            assert_eq!(update.subscribed_codecs[0].codec, "vp8");
            assert_eq!(update.subscribed_codecs[0].qualities, {
                #[allow(deprecated)]
                update.subscribed_qualities.clone()
            });
            update.subscribed_codecs[0]
                .qualities
                .iter()
                .map(|quality| quality.enabled)
                .collect::<Vec<_>>()
        };
        assert_eq!(enabled(None), [false, false, false]);
        assert_eq!(enabled(LOW), [true, false, false]);
        assert_eq!(
            enabled(Some(proto::VideoQuality::Medium as i32)),
            [true, true, false]
        );
        assert_eq!(enabled(HIGH), [true, true, true]);
    }

    #[test]
    fn codecs_are_named_as_livekit_server_names_them() {
        assert_eq!(codec_name("video/VP8"), "vp8");
        assert_eq!(codec_name("video/h264"), "h264");
        assert_eq!(codec_name("VP8"), "vp8");
        assert_eq!(codec_name(""), "");
    }
}
