//! Encode and decode time per frame for VP8 (libvpx) and H.264 (OpenH264) at 720p and 360p,
//! the three-layer 720p simulcast encode the camera track runs, and the pixel conversions
//! in front of the encoders (a 1080p screen, a 720p MJPEG camera). The input is the moving
//! test pattern at 30 fps, encoded with the realtime settings the pipeline uses.
//!
//! `cargo xtask bench media` runs this and writes the figures to docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use confab_media::i420::{I420Layout, VideoFrame};
use confab_media::video::codec::{EncoderSettings, VideoDecoders, VideoEncoder};
use confab_media::video::convert::{PackedRgb, i420_to_rgba, mjpeg_to_i420, rgb_to_i420};
use confab_media::video::simulcast::{EncodeControls, LayerTarget, SimulcastEncoder};
use confab_media::video::source::TestPattern;
use confab_rtc::room::{FrameCodec, VideoCodec};
use criterion::{Criterion, criterion_group, criterion_main};

/// Two seconds of video: the encoders reach their steady state within it.
const SEQUENCE: usize = 60;
/// 90 kHz ticks between frames at 30 fps.
const TICKS: u64 = 3_000;

const SIZES: [(&str, u32, u32, u32); 2] =
    [("720p", 1280, 720, 1_700_000), ("360p", 640, 360, 500_000)];
const CODECS: [(&str, VideoCodec, FrameCodec); 2] = [
    ("vp8", VideoCodec::Vp8, FrameCodec::Vp8),
    ("h264", VideoCodec::H264, FrameCodec::H264),
];

fn layout(width: u32, height: u32) -> I420Layout {
    I420Layout::new(width, height).expect("valid size")
}

fn frames(width: u32, height: u32) -> Vec<VideoFrame> {
    let mut pattern = TestPattern::new(layout(width, height), 30);
    (0..SEQUENCE).map(|_| pattern.render().frame).collect()
}

fn encoder(codec: VideoCodec, width: u32, height: u32, bitrate_bps: u32) -> VideoEncoder {
    VideoEncoder::new(
        codec,
        EncoderSettings {
            layout: layout(width, height),
            bitrate_bps,
            fps: 30,
            detail: false,
        },
    )
    .expect("encoder")
}

/// Times `step` over `iterations` calls that walk the sequence in order.
fn walk(iterations: u64, mut step: impl FnMut(usize)) -> Duration {
    let started = Instant::now();
    for index in 0..iterations {
        step(index as usize % SEQUENCE);
    }
    started.elapsed()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (size, width, height, bitrate) in SIZES {
        let input = frames(width, height);
        for (name, codec, _) in CODECS {
            let mut encoder = encoder(codec, width, height, bitrate);
            let mut rtp_time = 0;
            group.bench_function(format!("{name}-{size}"), |b| {
                b.iter_custom(|iterations| {
                    walk(iterations, |index| {
                        rtp_time += TICKS;
                        black_box(
                            encoder
                                .encode(&input[index], rtp_time, false)
                                .expect("encode"),
                        );
                    })
                });
            });
        }
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (size, width, height, bitrate) in SIZES {
        let input = frames(width, height);
        for (name, codec, frame_codec) in CODECS {
            let mut encoder = encoder(codec, width, height, bitrate);
            // One keyframe, then deltas: replaying the sequence restarts at its keyframe.
            let encoded: Vec<Vec<u8>> = input
                .iter()
                .enumerate()
                .filter_map(|(index, frame)| {
                    encoder
                        .encode(frame, index as u64 * TICKS, index == 0)
                        .expect("encode")
                        .map(|picture| picture.data)
                })
                .collect();
            let mut decoders = VideoDecoders::default();
            group.bench_function(format!("{name}-{size}"), |b| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for index in 0..iterations as usize {
                        let data = &encoded[index % encoded.len()];
                        black_box(decoders.decode(frame_codec, data).expect("decode"));
                    }
                    started.elapsed()
                });
            });
        }
    }
    group.finish();
}

/// The camera track's whole encode: 1280×720, 640×360 and 320×180 from each captured frame.
fn simulcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulcast");
    let input = frames(1280, 720);
    let targets: Vec<LayerTarget> = [
        (320, 180, 150_000),
        (640, 360, 500_000),
        (1280, 720, 1_700_000),
    ]
    .into_iter()
    .map(|(width, height, max_bitrate_bps)| LayerTarget {
        layout: layout(width, height),
        max_bitrate_bps,
    })
    .collect();
    let controls = EncodeControls {
        keyframe: false,
        active: vec![true; 3],
        available_bitrate_bps: 0,
    };
    for (name, codec, _) in CODECS {
        let mut encoder =
            SimulcastEncoder::new(codec, targets.clone(), 30, false).expect("encoder");
        let mut rtp_time = 0;
        group.bench_function(format!("{name}-720p-3-layers"), |b| {
            b.iter_custom(|iterations| {
                walk(iterations, |index| {
                    rtp_time += TICKS;
                    black_box(
                        encoder
                            .encode(&input[index], rtp_time, &controls)
                            .expect("encode"),
                    );
                })
            });
        });
    }
    group.finish();
}

/// What capture costs before the encoder: a 1080p X11 screen (BGRX) and a 720p MJPEG camera.
fn convert(c: &mut Criterion) {
    let mut group = c.benchmark_group("convert");
    let screen = TestPattern::new(layout(1920, 1080), 30).render().frame;
    let bgrx: Vec<u8> = i420_to_rgba(&screen)
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 0])
        .collect();
    group.bench_function("bgrx-1080p-to-i420", |b| {
        b.iter(|| black_box(rgb_to_i420(&bgrx, 1920, 1080, 1920 * 4, PackedRgb::BGRX)));
    });
    let camera = TestPattern::new(layout(1280, 720), 30).render().frame;
    let rgb: Vec<u8> = i420_to_rgba(&camera)
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&rgb, 1280, 720, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg");
    group.bench_function("mjpeg-720p-to-i420", |b| {
        b.iter(|| black_box(mjpeg_to_i420(&jpeg, 1280, 720)));
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = codecs;
    config = config();
    targets = encode, decode, simulcast, convert
}
criterion_main!(codecs);
