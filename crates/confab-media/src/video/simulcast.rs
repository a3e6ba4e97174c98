//! One captured frame in, one encoded frame per simulcast layer out: each layer has its own
//! encoder at its own size, fed a box-filtered copy of the capture. Layers nobody watches are
//! not encoded, a keyframe request restarts every layer, and the bandwidth estimate is shared
//! out lowest layer first (the layer everyone can receive must never starve).

use std::borrow::Cow;

use crate::i420::{I420Layout, VideoFrame};
use crate::video::scale::scale;
use crate::video::vp8::{Vp8Encoder, Vp8Error, Vp8Frame, Vp8Settings};

/// One layer's size and bitrate ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerTarget {
    pub layout: I420Layout,
    pub max_bitrate_bps: u32,
}

/// What the network and the subscribers currently ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeControls {
    /// Make the next frame of every layer a keyframe.
    pub keyframe: bool,
    /// Per layer (same order as the targets): does anyone want it.
    pub active: Vec<bool>,
    /// The estimate for all of this track's layers; 0 while there is none yet.
    pub available_bitrate_bps: u64,
}

/// A frame of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFrame {
    /// Index into the targets (0 = lowest).
    pub layer: usize,
    pub frame: Vp8Frame,
}

#[derive(Debug)]
pub struct SimulcastEncoder {
    targets: Vec<LayerTarget>,
    encoders: Vec<Vp8Encoder>,
    /// Layers that were paused restart with a keyframe (their decoder state is stale).
    needs_keyframe: Vec<bool>,
}

impl SimulcastEncoder {
    /// `targets` lowest first; `fps` is the capture rate; `detail` tunes for screen content.
    pub fn new(targets: Vec<LayerTarget>, fps: u32, detail: bool) -> Result<Self, Vp8Error> {
        let encoders = targets
            .iter()
            .map(|target| {
                Vp8Encoder::new(Vp8Settings {
                    layout: target.layout,
                    bitrate_bps: target.max_bitrate_bps,
                    fps,
                    detail,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            needs_keyframe: vec![true; targets.len()],
            targets,
            encoders,
        })
    }

    pub fn targets(&self) -> &[LayerTarget] {
        &self.targets
    }

    /// Encodes `frame` (any size; each layer scales it) at `rtp_time` (90 kHz).
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        rtp_time: u64,
        controls: &EncodeControls,
    ) -> Result<Vec<LayerFrame>, Vp8Error> {
        let bitrates = allocate(
            &self.targets,
            &controls.active,
            controls.available_bitrate_bps,
        );
        let mut out = Vec::with_capacity(self.targets.len());
        // Each layer scales from the one above it (halving the work), and a layer at the
        // capture's own size encodes the capture itself, uncopied.
        let mut source: Cow<'_, VideoFrame> = Cow::Borrowed(frame);
        for layer in (0..self.targets.len()).rev() {
            let active = controls.active.get(layer).copied().unwrap_or(true);
            if !active || bitrates[layer] == 0 {
                self.needs_keyframe[layer] = true;
                continue;
            }
            let target = self.targets[layer].layout;
            if source.layout() != target {
                source = Cow::Owned(scale(&source, target));
            }
            let encoder = &mut self.encoders[layer];
            encoder.set_bitrate(bitrates[layer])?;
            let keyframe = controls.keyframe || self.needs_keyframe[layer];
            if let Some(encoded) = encoder.encode(&source, rtp_time, keyframe)? {
                self.needs_keyframe[layer] = false;
                out.push(LayerFrame {
                    layer,
                    frame: encoded,
                });
            }
        }
        out.reverse();
        Ok(out)
    }
}

/// Shares `available` (0 = unknown: everyone gets their maximum) among the active layers,
/// lowest first; a layer that cannot get a third of its maximum is switched off rather than
/// sent blurred, except the lowest, which always gets what there is.
pub fn allocate(targets: &[LayerTarget], active: &[bool], available: u64) -> Vec<u32> {
    let mut left = if available == 0 { u64::MAX } else { available };
    targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            if !active.get(index).copied().unwrap_or(true) {
                return 0;
            }
            let max = u64::from(target.max_bitrate_bps);
            let share = left.min(max);
            let first_active = !active[..index.min(active.len())].iter().any(|&on| on);
            if share * 3 < max && !first_active {
                left = 0;
                return 0;
            }
            left -= share;
            share as u32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::source::TestPattern;
    use crate::video::stamp::read;
    use crate::video::vp8::Vp8Decoder;

    fn targets() -> Vec<LayerTarget> {
        [(160, 90, 100_000), (320, 180, 300_000), (640, 360, 800_000)]
            .into_iter()
            .map(|(w, h, bps)| LayerTarget {
                layout: I420Layout::new(w, h).expect("valid"),
                max_bitrate_bps: bps,
            })
            .collect()
    }

    #[test]
    fn bandwidth_goes_to_the_lowest_layers_first() {
        let all = [true, true, true];
        assert_eq!(allocate(&targets(), &all, 0), [100_000, 300_000, 800_000]);
        assert_eq!(
            allocate(&targets(), &all, 600_000),
            [100_000, 300_000, 0],
            "200 kbit/s left is under a third of the top layer's 800"
        );
        assert_eq!(
            allocate(&targets(), &all, 700_000),
            [100_000, 300_000, 300_000]
        );
        assert_eq!(allocate(&targets(), &all, 50_000), [50_000, 0, 0]);
        assert_eq!(
            allocate(&targets(), &[false, true, true], 400_000),
            [0, 300_000, 0],
            "the lowest active layer always gets what there is"
        );
        assert_eq!(
            allocate(&targets(), &[false, false, true], 100_000),
            [0, 0, 100_000]
        );
    }

    #[test]
    fn each_active_layer_decodes_to_its_size_with_the_stamp() {
        let mut encoder = SimulcastEncoder::new(targets(), 30, false).expect("encoder");
        let mut pattern = TestPattern::new(I420Layout::new(640, 360).expect("valid"), 30);
        let mut decoders: Vec<Vp8Decoder> = (0..3)
            .map(|_| Vp8Decoder::new().expect("decoder"))
            .collect();
        let mut controls = EncodeControls {
            keyframe: false,
            active: vec![true, true, true],
            available_bitrate_bps: 0,
        };
        for index in 0..10u64 {
            if index == 5 {
                controls.active = vec![true, false, true];
            }
            let captured = pattern.render();
            let frames = encoder
                .encode(&captured.frame, index * 3000, &controls)
                .expect("encode");
            let layers: Vec<usize> = frames.iter().map(|f| f.layer).collect();
            if index < 5 {
                assert_eq!(layers, [0, 1, 2]);
            } else {
                assert_eq!(layers, [0, 2], "the paused middle layer is skipped");
            }
            for frame in frames {
                let decoded = decoders[frame.layer]
                    .decode(&frame.frame.data)
                    .expect("decode")
                    .expect("frame");
                assert_eq!(decoded.layout(), targets()[frame.layer].layout);
                assert_eq!(read(&decoded).map(|s| s.counter), Some(index as u32));
            }
        }
        // Resuming the middle layer starts with a keyframe.
        controls.active = vec![true, true, true];
        let frames = encoder
            .encode(&pattern.render().frame, 30_000, &controls)
            .expect("encode");
        assert!(frames[1].frame.keyframe && !frames[0].frame.keyframe);
    }
}
