//! Which simulcast layer a subscriber receives, and RTP time that stays continuous when the
//! layer changes.
//!
//! Publishers do not always send every layer: libwebrtc (and our own encoder) start with only
//! the lowest while the bandwidth estimate is low, and drop upper layers when it falls. A
//! subscriber whose layer is not flowing gets the best flowing layer below it (or, failing
//! that, the lowest above), and moves to its own layer at that layer's next keyframe once it
//! flows again. A new downtrack first waits a moment for its own layer: layers start within
//! milliseconds of each other, and standing in at once would forward the same picture from
//! each layer in turn.

use std::time::{Duration, Instant};

use livekit_protocol as proto;
use str0m::media::{MediaTime, Rid};

/// LiveKit's rids, lowest quality first.
const RIDS_BY_QUALITY: [&str; 3] = ["q", "h", "f"];
/// A layer that sent nothing for this long is not flowing (30 fps layers send every 33 ms;
/// screen shares and throttled layers less often).
const LAYER_GONE_AFTER: Duration = Duration::from_millis(1000);
/// How long a new downtrack waits for its own layer before another stands in.
const STAND_IN_AFTER: Duration = Duration::from_millis(300);

/// A subscriber's choice among the layers of one video track.
#[derive(Debug, Clone)]
pub struct LayerSelector {
    /// The publisher's layers, lowest first. Empty: no simulcast.
    layers: Vec<Layer>,
    /// The layer the subscriber should get; `None` with simulcast off.
    target: Option<Rid>,
    /// The layer being forwarded. Switches happen on a keyframe of the target layer.
    current: Option<Rid>,
    /// The subscriber disabled the track (e.g. it is not visible).
    paused: bool,
    /// When each layer (same order as `layers`) last sent a frame.
    last_seen: Vec<Option<Instant>>,
    /// When the first frame of any layer arrived.
    first_seen: Option<Instant>,
    timeline: Timeline,
}

#[derive(Debug, Clone, Copy)]
struct Layer {
    rid: Rid,
    /// LiveKit's `VideoQuality`: 0 low, 1 medium, 2 high.
    quality: i32,
    width: u32,
    height: u32,
}

/// What to do with one frame of the publisher's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Forward(MediaTime),
    /// Not forwarded; if `true`, ask the publisher for a keyframe on this frame's layer (the
    /// layer the subscriber waits to switch to).
    Drop {
        want_keyframe: bool,
    },
}

impl LayerSelector {
    /// For a track whose publisher announced `layers` (empty or one for no simulcast).
    pub fn new(layers: &[proto::VideoLayer]) -> Self {
        let mut by_quality: Vec<Layer> = layers
            .iter()
            .filter_map(|layer| {
                let rid = RIDS_BY_QUALITY.get(usize::try_from(layer.quality).ok()?)?;
                Some(Layer {
                    rid: Rid::from(*rid),
                    quality: layer.quality,
                    width: layer.width,
                    height: layer.height,
                })
            })
            .collect();
        by_quality.sort_by_key(|layer| u64::from(layer.width) * u64::from(layer.height));
        if by_quality.len() < 2 {
            by_quality.clear();
        }
        let target = by_quality.last().map(|layer| layer.rid);
        Self {
            last_seen: vec![None; by_quality.len()],
            first_seen: None,
            layers: by_quality,
            target,
            current: None,
            paused: false,
            timeline: Timeline::default(),
        }
    }

    /// `UpdateTrackSettings`, as `livekit-server` reads it: disabled (or quality OFF) pauses;
    /// a size picks the smallest layer that covers it; otherwise the best layer not above the
    /// requested quality.
    pub fn apply_settings(&mut self, settings: &proto::UpdateTrackSettings) {
        #[allow(deprecated)] // `quality` is what the browser SDK sends without a size.
        let quality = settings.quality;
        self.paused = settings.disabled || quality == proto::VideoQuality::Off as i32;
        if self.layers.is_empty() || self.paused {
            return;
        }
        let (width, height) = (settings.width, settings.height);
        let wanted = if width > 0 || height > 0 {
            self.layers
                .iter()
                .find(|layer| layer.width >= width && layer.height >= height)
                .or(self.layers.last())
        } else {
            self.layers
                .iter()
                .rev()
                .find(|layer| layer.quality <= quality)
                .or(self.layers.first())
        };
        self.target = wanted.map(|layer| layer.rid);
    }

    pub fn target(&self) -> Option<Rid> {
        self.target
    }

    /// The quality (LiveKit's `VideoQuality`) this subscriber wants from the publisher:
    /// `None` while it paused the track; the best one without simulcast.
    pub fn wanted_quality(&self) -> Option<i32> {
        if self.paused {
            return None;
        }
        let target = self
            .layers
            .iter()
            .find(|layer| Some(layer.rid) == self.target);
        Some(target.map_or(proto::VideoQuality::High as i32, |layer| layer.quality))
    }

    /// The layer being forwarded (`None` until the first keyframe, or without simulcast).
    pub fn current(&self) -> Option<Rid> {
        self.current
    }

    /// The layer a keyframe is needed on, at `now`: the one this subscriber gets or is about
    /// to switch to — a stand-in while the target does not flow. Asking for the target's
    /// keyframe instead leaves a stand-in waiting for a keyframe that never comes (publishers
    /// send keyframes on request), and the request itself fails while the target has never
    /// sent. `None` without simulcast.
    pub fn keyframe_layer(&self, now: Instant) -> Option<Rid> {
        self.flowing_choice(now)
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Decides about one frame from layer `rid` captured at `time`, arriving at `arrival`.
    pub fn accept(
        &mut self,
        rid: Option<Rid>,
        keyframe: bool,
        time: MediaTime,
        arrival: Instant,
    ) -> Verdict {
        if self.paused {
            return Verdict::Drop {
                want_keyframe: false,
            };
        }
        if self.layers.is_empty() {
            // No simulcast: one stream, forwarded as it comes.
            return Verdict::Forward(self.timeline.map(rid, time, arrival));
        }
        if let Some(index) = self.index_of(rid) {
            self.last_seen[index] = Some(arrival);
            self.first_seen.get_or_insert(arrival);
        }
        let wanted = self.flowing_choice(arrival);
        if rid == wanted && self.current != wanted {
            if !keyframe {
                return Verdict::Drop {
                    want_keyframe: true,
                };
            }
            self.current = wanted;
        }
        if rid.is_some() && rid == self.current {
            Verdict::Forward(self.timeline.map(rid, time, arrival))
        } else {
            Verdict::Drop {
                want_keyframe: false,
            }
        }
    }
}

impl LayerSelector {
    fn index_of(&self, rid: Option<Rid>) -> Option<usize> {
        let rid = rid?;
        self.layers.iter().position(|layer| layer.rid == rid)
    }

    /// The target when it flows (or the downtrack is new); else the best flowing layer below
    /// it; else the lowest flowing above it; else the target (nothing flows).
    fn flowing_choice(&self, now: Instant) -> Option<Rid> {
        let target = self.index_of(self.target)?;
        let settled = self
            .first_seen
            .is_some_and(|at| now.saturating_duration_since(at) >= STAND_IN_AFTER);
        let flowing = |index: &usize| {
            self.last_seen[*index]
                .is_some_and(|at| now.saturating_duration_since(at) < LAYER_GONE_AFTER)
        };
        let choice = Some(target)
            .filter(|target| flowing(target) || !settled)
            .or_else(|| (0..target).rev().find(flowing))
            .or_else(|| (target + 1..self.layers.len()).find(flowing))
            .unwrap_or(target);
        Some(self.layers[choice].rid)
    }
}

/// Maps each layer's RTP time onto one continuous outgoing timeline: a new layer continues
/// where the previous one stopped, advanced by the wall-clock time in between.
#[derive(Debug, Clone, Default)]
struct Timeline {
    source: Option<Rid>,
    /// Added to the source's time (in its clock units).
    offset: i128,
    last: Option<(u64, Instant)>,
}

impl Timeline {
    fn map(&mut self, rid: Option<Rid>, time: MediaTime, arrival: Instant) -> MediaTime {
        let rate = u128::from(time.denom());
        if rid != self.source {
            self.source = rid;
            self.offset = match self.last {
                None => 0,
                Some((last, at)) => {
                    let elapsed = arrival.saturating_duration_since(at).as_micros();
                    let ticks = (elapsed * rate / 1_000_000).max(1);
                    i128::from(last) + i128::try_from(ticks).unwrap_or(0) - i128::from(time.numer())
                }
            };
        }
        let mapped = (i128::from(time.numer()) + self.offset).max(0);
        let mapped = u64::try_from(mapped).unwrap_or(u64::MAX);
        self.last = Some((mapped, arrival));
        MediaTime::new(mapped, time.frequency())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use str0m::media::Frequency;

    use super::*;

    fn layers() -> Vec<proto::VideoLayer> {
        [(0, 320, 180), (1, 640, 360), (2, 1280, 720)]
            .into_iter()
            .map(|(quality, width, height)| proto::VideoLayer {
                quality,
                width,
                height,
                ..Default::default()
            })
            .collect()
    }

    fn size(width: u32, height: u32) -> proto::UpdateTrackSettings {
        proto::UpdateTrackSettings {
            width,
            height,
            ..Default::default()
        }
    }

    #[allow(deprecated)]
    fn quality(quality: proto::VideoQuality) -> proto::UpdateTrackSettings {
        proto::UpdateTrackSettings {
            quality: quality as i32,
            ..Default::default()
        }
    }

    #[test]
    fn sizes_and_qualities_pick_layers() {
        let mut selector = LayerSelector::new(&layers());
        selector.apply_settings(&size(640, 360));
        assert_eq!(selector.target(), Some(Rid::from("h")));
        selector.apply_settings(&size(1920, 1080));
        assert_eq!(selector.target(), Some(Rid::from("f")), "the best there is");
        selector.apply_settings(&quality(proto::VideoQuality::Low));
        assert_eq!(selector.target(), Some(Rid::from("q")));
        selector.apply_settings(&quality(proto::VideoQuality::High));
        assert_eq!(selector.target(), Some(Rid::from("f")));
        selector.apply_settings(&quality(proto::VideoQuality::Off));
        assert!(selector.is_paused());
    }

    fn at(ticks: u64) -> MediaTime {
        MediaTime::new(ticks, Frequency::NINETY_KHZ)
    }

    #[test]
    fn starts_on_a_keyframe_of_the_best_layer() {
        let mut selector = LayerSelector::new(&layers());
        let now = Instant::now();
        let f = Some(Rid::from("f"));
        assert_eq!(
            selector.accept(f, false, at(0), now),
            Verdict::Drop {
                want_keyframe: true
            }
        );
        assert!(matches!(
            selector.accept(Some(Rid::from("q")), true, at(0), now),
            Verdict::Drop { .. }
        ));
        assert_eq!(
            selector.accept(f, true, at(90), now),
            Verdict::Forward(at(90))
        );
        assert_eq!(
            selector.accept(f, false, at(180), now),
            Verdict::Forward(at(180))
        );
    }

    #[test]
    fn switching_layers_waits_for_a_keyframe_and_keeps_time_continuous() {
        let mut selector = LayerSelector::new(&layers());
        let start = Instant::now();
        let (f, q) = (Some(Rid::from("f")), Some(Rid::from("q")));
        assert_eq!(
            selector.accept(f, true, at(1_000), start),
            Verdict::Forward(at(1_000))
        );
        selector.apply_settings(&size(300, 170));
        assert_eq!(selector.target(), q);
        // Until the low layer's keyframe, the high layer keeps flowing.
        let later = start + Duration::from_millis(100);
        assert!(matches!(
            selector.accept(q, false, at(50_000), later),
            Verdict::Drop { .. }
        ));
        assert_eq!(
            selector.accept(f, false, at(10_000), later),
            Verdict::Forward(at(10_000))
        );
        // The low layer's clock is unrelated; output continues 100 ms (9000 ticks) later.
        let then = later + Duration::from_millis(100);
        assert_eq!(
            selector.accept(q, true, at(77_000), then),
            Verdict::Forward(at(19_000))
        );
        assert!(matches!(
            selector.accept(f, false, at(19_000), then),
            Verdict::Drop { .. }
        ));
    }

    #[test]
    fn a_layer_that_does_not_flow_is_stood_in_for_by_the_best_one_that_does() {
        let mut selector = LayerSelector::new(&layers());
        let start = Instant::now();
        let (f, h, q) = (
            Some(Rid::from("f")),
            Some(Rid::from("h")),
            Some(Rid::from("q")),
        );
        // The publisher starts with the low layer only (its bandwidth estimate is low). A new
        // downtrack waits a moment for its own layer, then the low layer stands in from its
        // next keyframe.
        assert_eq!(
            selector.accept(q, true, at(0), start),
            Verdict::Drop {
                want_keyframe: false
            }
        );
        assert_eq!(
            selector.keyframe_layer(start),
            f,
            "a new downtrack waits for its own"
        );
        let settled = start + STAND_IN_AFTER;
        assert_eq!(
            selector.accept(q, false, at(3_000), settled),
            Verdict::Drop {
                want_keyframe: true
            }
        );
        // The keyframe it waits for is the stand-in's, not the target's (which never sent).
        assert_eq!(selector.target(), f);
        assert_eq!(selector.keyframe_layer(settled), q);
        assert!(matches!(
            selector.accept(q, true, at(3_000), settled),
            Verdict::Forward(_)
        ));
        let soon = settled + Duration::from_millis(33);
        assert!(matches!(
            selector.accept(q, false, at(6_000), soon),
            Verdict::Forward(_)
        ));
        // The high layer starts: wait for its keyframe, keep the low layer until then.
        let later = soon + Duration::from_millis(33);
        assert_eq!(
            selector.accept(f, false, at(9_000), later),
            Verdict::Drop {
                want_keyframe: true
            }
        );
        assert!(matches!(
            selector.accept(q, false, at(9_000), later),
            Verdict::Forward(_)
        ));
        let switch = later + Duration::from_millis(33);
        // (Output time continues from the low layer's; the timeline has its own test.)
        assert!(matches!(
            selector.accept(f, true, at(12_000), switch),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            selector.accept(q, false, at(12_000), switch),
            Verdict::Drop { .. }
        ));
        // The high layer stops for good; after a second without it the middle layer stands in,
        // from its next keyframe.
        let gone = switch + LAYER_GONE_AFTER + Duration::from_millis(10);
        assert_eq!(
            selector.accept(h, false, at(100_000), gone),
            Verdict::Drop {
                want_keyframe: true
            }
        );
        assert_eq!(selector.keyframe_layer(gone), h);
        assert!(matches!(
            selector.accept(h, true, at(103_000), gone),
            Verdict::Forward(_)
        ));
        assert!(matches!(
            selector.accept(q, false, at(103_000), gone),
            Verdict::Drop { .. }
        ));
    }

    #[test]
    fn layers_that_start_together_forward_one_picture_once() {
        let mut selector = LayerSelector::new(&layers());
        let start = Instant::now();
        let forwarded = ["q", "h", "f"]
            .into_iter()
            .filter(|rid| {
                let verdict = selector.accept(Some(Rid::from(*rid)), true, at(0), start);
                matches!(verdict, Verdict::Forward(_))
            })
            .collect::<Vec<_>>();
        assert_eq!(forwarded, ["f"]);
    }

    #[test]
    fn a_disabled_track_forwards_nothing() {
        let mut selector = LayerSelector::new(&[]);
        let now = Instant::now();
        assert!(matches!(
            selector.accept(None, false, at(0), now),
            Verdict::Forward(_)
        ));
        selector.apply_settings(&proto::UpdateTrackSettings {
            disabled: true,
            ..Default::default()
        });
        assert!(selector.is_paused());
        assert!(matches!(
            selector.accept(None, true, at(1), now),
            Verdict::Drop { .. }
        ));
    }
}
