//! One captured frame in, one encoded frame per simulcast layer out: each layer has its own
//! encoder at its own size, fed a box-filtered copy of the capture. Layers nobody watches are
//! not encoded, a keyframe request restarts every layer, and the bandwidth estimate is shared
//! out lowest layer first (the layer everyone can receive must never starve).

use std::borrow::Cow;

use crate::i420::{I420Layout, VideoFrame};
use crate::video::scale::scale;
use confab_rtc::room::VideoCodec;

use crate::video::codec::{CodecError, EncodedPicture, EncoderSettings, VideoEncoder};

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
    pub frame: EncodedPicture,
}

#[derive(Debug)]
pub struct SimulcastEncoder {
    targets: Vec<LayerTarget>,
    encoders: Vec<VideoEncoder>,
    /// Layers that were paused restart with a keyframe (their decoder state is stale).
    needs_keyframe: Vec<bool>,
}

impl SimulcastEncoder {
    /// `targets` lowest first, in `codec`; `fps` is the capture rate; `detail` tunes for
    /// screen content.
    pub fn new(
        codec: VideoCodec,
        targets: Vec<LayerTarget>,
        fps: u32,
        detail: bool,
    ) -> Result<Self, CodecError> {
        let encoders = targets
            .iter()
            .map(|target| {
                VideoEncoder::new(
                    codec,
                    EncoderSettings {
                        layout: target.layout,
                        bitrate_bps: target.max_bitrate_bps,
                        fps,
                        detail,
                    },
                )
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

    pub fn codec(&self) -> Option<VideoCodec> {
        self.encoders.first().map(VideoEncoder::codec)
    }

    /// Encodes `frame` (any size; each layer scales it) at `rtp_time` (90 kHz).
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        rtp_time: u64,
        controls: &EncodeControls,
    ) -> Result<Vec<LayerFrame>, CodecError> {
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
    use crate::video::codec::VideoDecoders;
    use crate::video::source::TestPattern;
    use crate::video::stamp::read;
    use confab_rtc::room::FrameCodec;

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
        for (codec, frame_codec) in [
            (VideoCodec::Vp8, FrameCodec::Vp8),
            (VideoCodec::H264, FrameCodec::H264),
        ] {
            layers_decode_and_pause(codec, frame_codec);
        }
    }

    fn layers_decode_and_pause(codec: VideoCodec, frame_codec: FrameCodec) {
        let mut encoder = SimulcastEncoder::new(codec, targets(), 30, false).expect("encoder");
        assert_eq!(encoder.codec(), Some(codec));
        let mut pattern = TestPattern::new(I420Layout::new(640, 360).expect("valid"), 30);
        let mut decoders: Vec<VideoDecoders> = (0..3).map(|_| VideoDecoders::default()).collect();
        let mut controls = EncodeControls {
            keyframe: false,
            active: vec![true, true, true],
            available_bitrate_bps: 0,
        };
        // H.264's rate control may skip a frame of a layer; VP8's never does.
        let mut frames_per_layer = [0; 3];
        for index in 0..10u64 {
            if index == 5 {
                controls.active = vec![true, false, true];
            }
            let captured = pattern.render();
            let frames = encoder
                .encode(&captured.frame, index * 3000, &controls)
                .expect("encode");
            let layers: Vec<usize> = frames.iter().map(|f| f.layer).collect();
            if codec == VideoCodec::Vp8 {
                let all: &[usize] = if index < 5 { &[0, 1, 2] } else { &[0, 2] };
                assert_eq!(layers, all);
            }
            if index >= 5 {
                assert!(
                    !layers.contains(&1),
                    "{codec:?}: the paused middle layer is skipped"
                );
            }
            for frame in frames {
                frames_per_layer[frame.layer] += 1;
                let decoded = decoders[frame.layer]
                    .decode(frame_codec, &frame.frame.data)
                    .expect("decode")
                    .expect("frame");
                assert_eq!(decoded.layout(), targets()[frame.layer].layout);
                assert_eq!(read(&decoded).map(|s| s.counter), Some(index as u32));
            }
        }
        assert!(
            frames_per_layer[0] >= 7 && frames_per_layer[2] >= 7 && frames_per_layer[1] >= 3,
            "{codec:?}: {frames_per_layer:?}"
        );
        // Resuming the middle layer starts with a keyframe; the others carry on.
        controls.active = vec![true, true, true];
        let frames = encoder
            .encode(&pattern.render().frame, 30_000, &controls)
            .expect("encode");
        let middle = frames
            .iter()
            .find(|f| f.layer == 1)
            .expect("the middle layer resumes");
        assert!(middle.frame.keyframe, "{codec:?}");
        assert!(VideoDecoders::is_keyframe(frame_codec, &middle.frame.data));
        for other in frames.iter().filter(|f| f.layer != 1) {
            assert!(!other.frame.keyframe, "{codec:?}");
            assert!(!VideoDecoders::is_keyframe(frame_codec, &other.frame.data));
        }
    }
}
