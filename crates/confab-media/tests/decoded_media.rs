//! Real encoded media between two Confab clients, decoded at the other end: the stamped test
//! pattern (VP8 or H.264, three simulcast layers) and a tone (Opus), on the embedded SFU and on
//! a real `livekit-server`, through a lossy, slow link and through a narrowing uplink. Each side reads the other's frame counters
//! back from decoded pixels and finds the other's tone frequency in decoded audio.

#[path = "../../confab-rtc/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::join_token;
use common::livekit::{DEV_KEY, DEV_SECRET, LiveKitServer};
use common::relay::{OUTAGE_CLIENT_IP, RELAY_MEDIA_IP, Relay};
use common::scenarios::{join_room, subscribed_audio_video, subscribed_track};
use confab_media::audio::analysis::{dominant_frequency, tone_share};
use confab_media::audio::source::ToneSource;
use confab_media::i420::I420Layout;
use confab_media::pipeline::{self, AudioReceiver, DecodedVideo, MediaTask, VideoReceiver};
use confab_media::video::source::TestPattern;
use confab_media::video::stamp::FrameStamp;
use confab_rtc::room::{
    FrameCodec, Layer, LayerSpec, RemoteTrack, Room, RoomOptions, SubscriptionSettings, TrackInfo,
    TrackOptions, TrackOptionsKind, TrackSource, VideoCodec,
};

const KEY: &str = "APImedia";
const SECRET: &str = "media-secret-media-secret-media-secret";
/// Frames whose counters must be seen advancing (about two seconds of video).
const FRAMES: usize = 40;
/// Each test encodes and decodes several simulcast streams in real time; run side by side on
/// two cores they starve each other (frames pile up behind the encoders), so they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Generous: only a failing test waits this long.
const DEADLINE: Duration = Duration::from_secs(20);

/// A 640×360 camera in three layers of `codec` (LiveKit's ladder halved, to spare this
/// machine's CPU in tests that run beside others; the CLI publishes the full 1280×720 ladder).
fn small_camera(codec: VideoCodec) -> TrackOptions {
    let mut options = TrackOptions::camera(codec);
    let layers = [
        (Layer::Low, 160, 90, 100_000),
        (Layer::Medium, 320, 180, 300_000),
        (Layer::High, 640, 360, 800_000),
    ]
    .into_iter()
    .map(|(layer, width, height, max_bitrate_bps)| LayerSpec {
        layer,
        width,
        height,
        max_bitrate_bps,
    })
    .collect();
    options.kind = TrackOptionsKind::Video {
        codec,
        width: 640,
        height: 360,
        layers,
        detail: false,
    };
    options
}

/// Publishes the test pattern in `codec` and a tone of `frequency`; returns the senders.
async fn publish_test_media(room: &Room, frequency: f64, codec: VideoCodec) -> [MediaTask; 2] {
    let options = small_camera(codec);
    let camera = room.publish_track(options.clone()).await.expect("camera");
    let microphone = room
        .publish_track(TrackOptions::microphone())
        .await
        .expect("microphone");
    let pattern = TestPattern::new(I420Layout::new(640, 360).expect("valid"), 30);
    [
        pipeline::send_video(camera, &options, Box::new(pattern)).expect("video sender"),
        pipeline::send_audio(microphone, Box::new(ToneSource::new(frequency, 0.3)), true)
            .expect("audio sender"),
    ]
}

/// The next decoded frame.
async fn next_decoded(receiver: &mut VideoReceiver) -> DecodedVideo {
    loop {
        receiver
            .frames
            .changed()
            .await
            .expect("the decoder stopped early");
        if let Some(decoded) = receiver.frames.borrow_and_update().clone() {
            return decoded;
        }
    }
}

/// The next decoded frame, which must carry a readable stamp.
async fn next_stamped(receiver: &mut VideoReceiver) -> (DecodedVideo, FrameStamp) {
    let decoded = next_decoded(receiver).await;
    let Some(stamp) = decoded.stamp else {
        panic!(
            "a decoded frame without a readable stamp: {:?}",
            decoded.frame
        );
    };
    (decoded, stamp)
}

/// Waits until `count` decoded frames with readable stamps were seen with advancing counters;
/// returns the size of the last frame.
async fn stamps_advance(receiver: &mut VideoReceiver, count: usize) -> (u32, u32) {
    let mut counters: Vec<u32> = Vec::new();
    let mut size = (0, 0);
    let watch = async {
        while counters.len() < count {
            let (decoded, stamp) = next_stamped(receiver).await;
            if counters.last() != Some(&stamp.counter) {
                counters.push(stamp.counter);
            }
            size = (decoded.frame.width(), decoded.frame.height());
        }
    };
    tokio::time::timeout(DEADLINE, watch)
        .await
        .unwrap_or_else(|_| panic!("only {} stamped frames in time", counters.len()));
    assert!(
        counters.windows(2).all(|pair| pair[0] < pair[1]),
        "counters went backwards: {counters:?}"
    );
    size
}

/// One second of decoded audio, as playout would get it (concealed frames included), after
/// the decoder settled; and how many of its frames were concealed.
async fn one_second_of_audio(receiver: &mut AudioReceiver) -> (Vec<f32>, usize) {
    let mut samples = Vec::new();
    let mut concealed = 0;
    let mut skipped = 0;
    let listen = async {
        while samples.len() < 48_000 {
            let frame = receiver
                .frames
                .recv()
                .await
                .expect("the decoder stopped early");
            // The first frames carry the codec's start-up ramp.
            if skipped < 10 {
                skipped += 1;
                continue;
            }
            concealed += usize::from(frame.concealed);
            samples.extend(frame.samples);
        }
    };
    tokio::time::timeout(DEADLINE, listen)
        .await
        .unwrap_or_else(|_| panic!("only {} samples in time", samples.len()));
    (samples, concealed)
}

/// The tone is what is heard: the strongest frequency over the second, and most of the energy
/// of a typical 100 ms stretch at that frequency (the median, so that one concealed or lost
/// frame does not decide).
fn assert_tone((samples, concealed): (Vec<f32>, usize), frequency: f64) {
    assert_eq!(
        dominant_frequency(&samples),
        Some(frequency),
        "{concealed} concealed frames"
    );
    let mut shares: Vec<f64> = samples
        .chunks_exact(4_800)
        .map(|block| tone_share(block, frequency))
        .collect();
    shares.sort_by(f64::total_cmp);
    let median = shares[shares.len() / 2];
    assert!(
        median > 0.5,
        "a typical 100 ms has only {median:.2} of its energy at {frequency} Hz \
         ({concealed} of 50 frames concealed; shares {shares:.2?})"
    );
}

fn decode(tracks: [(TrackInfo, RemoteTrack); 2]) -> (AudioReceiver, VideoReceiver) {
    let [(_, audio), (_, video)] = tracks;
    (
        pipeline::receive_audio(audio).expect("audio decoder"),
        pipeline::receive_video(video).expect("video decoder"),
    )
}

/// Alice publishes VP8 and Bob `bob_codec`: each decodes the other's stamped frames in that
/// codec and hears the other's tone.
async fn two_clients_see_and_hear_each_other(
    url: &str,
    token: impl Fn(&str) -> String,
    bob_codec: VideoCodec,
) {
    let (alice, mut alice_events) = join_room(url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(url, &token("bob")).await;
    let alice_senders = publish_test_media(&alice, 440.0, VideoCodec::Vp8).await;
    let bob_senders = publish_test_media(&bob, 660.0, bob_codec).await;
    let bob_frames = match bob_codec {
        VideoCodec::Vp8 => FrameCodec::Vp8,
        VideoCodec::H264 => FrameCodec::H264,
    };

    let at_bob = subscribed_audio_video(&mut bob_events, "alice").await;
    let at_alice = subscribed_audio_video(&mut alice_events, "bob").await;
    let (mut bob_hears, mut bob_sees) = decode(at_bob);
    let (mut alice_hears, mut alice_sees) = decode(at_alice);

    let (width, height) = stamps_advance(&mut bob_sees, FRAMES).await;
    assert!(width >= 160 && height >= 90, "{width}×{height}");
    stamps_advance(&mut alice_sees, FRAMES).await;
    for (sees, codec) in [(&bob_sees, FrameCodec::Vp8), (&alice_sees, bob_frames)] {
        let decoded = sees.frames.borrow().as_ref().map(|d| d.codec);
        assert_eq!(decoded, Some(codec));
    }
    assert_tone(one_second_of_audio(&mut bob_hears).await, 440.0);
    assert_tone(one_second_of_audio(&mut alice_hears).await, 660.0);

    for task in alice_senders.into_iter().chain(bob_senders) {
        task.stop().expect("a sender ran without error");
    }
    alice.leave().await.expect("alice leaves");
    bob.leave().await.expect("bob leaves");
    for task in [
        bob_sees.task,
        alice_sees.task,
        bob_hears.task,
        alice_hears.task,
    ] {
        task.stop().expect("a receiver ran without error");
    }
}

/// Asking for the low layer brings decoded frames of the low layer's size, still stamped.
async fn the_low_layer_decodes_at_its_size(url: &str, token: impl Fn(&str) -> String) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(url, &token("bob")).await;
    let senders = publish_test_media(&alice, 440.0, VideoCodec::Vp8).await;
    let [_, (_, video)] = subscribed_audio_video(&mut bob_events, "alice").await;
    request_layer(&video, Layer::Low).await;
    let mut sees = pipeline::receive_video(video).expect("video decoder");
    decoded_until(&mut sees, "160×90 frame of the low layer", |d| {
        d.frame.width() == 160 && d.frame.height() == 90
    })
    .await;
    assert_eq!(stamps_advance(&mut sees, 10).await, (160, 90));
    for task in senders {
        task.stop().expect("sender");
    }
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
    sees.task.stop().expect("receiver");
}

/// A screen share is a track of its own: source `ScreenShare`, one layer at the screen's size,
/// encoded for detail (H.264's screen-content mode here). Bob receives it as such and decodes
/// it at full size with advancing stamps.
async fn a_screen_share_arrives_as_its_own_source(url: &str, token: impl Fn(&str) -> String) {
    let (alice, _alice_events) = join_room(url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(url, &token("bob")).await;
    let options = TrackOptions::screen_share(VideoCodec::H264, 640, 360);
    let screen = alice.publish_track(options.clone()).await.expect("screen");
    let pattern = TestPattern::new(I420Layout::new(640, 360).expect("valid"), 30);
    let sender = pipeline::send_video(screen, &options, Box::new(pattern)).expect("sender");
    let (info, track) = subscribed_track(&mut bob_events, "alice", "alice's screen").await;
    assert_eq!(info.source, TrackSource::ScreenShare);
    assert!(!info.simulcast, "{info:?}");
    let mut sees = pipeline::receive_video(track).expect("video decoder");
    assert_eq!(stamps_advance(&mut sees, 10).await, (640, 360));
    let decoded = sees.frames.borrow().as_ref().map(|d| d.codec);
    assert_eq!(decoded, Some(FrameCodec::H264));
    sender.stop().expect("sender");
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
    sees.task.stop().expect("receiver");
}

async fn request_layer(track: &RemoteTrack, layer: Layer) {
    track
        .set_settings(SubscriptionSettings::Layer(layer))
        .await
        .expect("settings sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_embedded_sfu() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sfu = common::start_sfu(KEY, SECRET).await;
    let url = format!("http://{}", sfu.local_addr());
    two_clients_see_and_hear_each_other(
        &url,
        |identity| join_token(KEY, SECRET, "decoded", identity),
        VideoCodec::H264,
    )
    .await;
    the_low_layer_decodes_at_its_size(&url, |identity| join_token(KEY, SECRET, "layers", identity))
        .await;
    a_screen_share_arrives_as_its_own_source(&url, |identity| {
        join_token(KEY, SECRET, "screen", identity)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_livekit_server() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = LiveKitServer::start();
    two_clients_see_and_hear_each_other(
        &server.url,
        |identity| join_token(DEV_KEY, DEV_SECRET, "decoded", identity),
        VideoCodec::H264,
    )
    .await;
    the_low_layer_decodes_at_its_size(&server.url, |identity| {
        join_token(DEV_KEY, DEV_SECRET, "layers", identity)
    })
    .await;
    a_screen_share_arrives_as_its_own_source(&server.url, |identity| {
        join_token(DEV_KEY, DEV_SECRET, "screen", identity)
    })
    .await;
}

/// A server that takes no H.264 (livekit-server's `room.enabled_codecs`): a camera asked for
/// in H.264 is sent as VP8, the codec the server answered, and decodes as VP8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_falls_back_to_vp8_where_the_server_takes_no_h264() {
    let _turn = ONE_AT_A_TIME.lock().await;
    common::init_tracing();
    let server = LiveKitServer::start_with(
        "room:\n  enabled_codecs:\n    - mime: audio/opus\n    - mime: video/vp8\n",
    );
    let token = |identity| join_token(DEV_KEY, DEV_SECRET, "fallback", identity);
    let (alice, _alice_events) = join_room(&server.url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(&server.url, &token("bob")).await;
    let senders = publish_test_media(&alice, 440.0, VideoCodec::H264).await;
    let [_, (_, video)] = subscribed_audio_video(&mut bob_events, "alice").await;
    let mut sees = pipeline::receive_video(video).expect("video decoder");
    stamps_advance(&mut sees, FRAMES).await;
    let decoded = sees.frames.borrow().as_ref().map(|d| d.codec);
    assert_eq!(decoded, Some(FrameCodec::Vp8));
    for task in senders {
        task.stop().expect("a sender ran without error");
    }
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
    sees.task.stop().expect("receiver");
}

/// The share of the frames published during a window of `frames` published frames that were
/// decoded: the decoder's own count against the span of stamp counters it saw.
async fn decoded_share(receiver: &mut VideoReceiver, frames: u32) -> f64 {
    let mut first: Option<(u32, u64)> = None;
    let watch = async {
        loop {
            let (decoded, stamp) = next_stamped(receiver).await;
            let (counter, count) = *first.get_or_insert((stamp.counter, decoded.decoded));
            let published = stamp.counter.saturating_sub(counter);
            if published >= frames {
                return (decoded.decoded - count) as f64 / f64::from(published);
            }
        }
    };
    tokio::time::timeout(DEADLINE, watch)
        .await
        .expect("frames kept arriving through the lossy link")
}

/// 5 % loss and 100 ms delay each way on Alice's link: NACK/RTX and keyframe requests keep
/// her video and Bob's decodable, and FEC and concealment keep the tones audible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_five_percent_loss_and_100_ms_delay() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sfu = common::start_sfu_with(KEY, SECRET, |config| {
        config.media.node_ip = Some(RELAY_MEDIA_IP);
    })
    .await;
    let relay = Relay::start(sfu.local_addr(), sfu.media_addr().port()).await;
    relay.impair(0.05, Duration::from_millis(100));
    let token = |identity| join_token(KEY, SECRET, "lossy", identity);
    let alice_options = RoomOptions {
        bind_ip: Some(OUTAGE_CLIENT_IP),
        ..RoomOptions::default()
    };
    let (alice, mut alice_events) = Room::connect(&relay.url, &token("alice"), alice_options)
        .await
        .expect("alice joined");
    let bob_url = format!("http://{}", sfu.local_addr());
    let (bob, mut bob_events) = join_room(&bob_url, &token("bob")).await;
    let senders = [
        publish_test_media(&alice, 440.0, VideoCodec::Vp8).await,
        publish_test_media(&bob, 660.0, VideoCodec::Vp8).await,
    ];
    for (events, publisher, frequency) in [
        (&mut bob_events, "alice", 440.0),
        (&mut alice_events, "bob", 660.0),
    ] {
        let (mut hears, mut sees) = decode(subscribed_audio_video(events, publisher).await);
        // Five seconds of video.
        let share = decoded_share(&mut sees, 150).await;
        let heard = one_second_of_audio(&mut hears).await;
        eprintln!(
            "{publisher}'s media through the lossy link: {share:.3} of video frames decoded, \
             {} of 50 audio frames concealed",
            heard.1
        );
        assert!(
            share >= 0.9,
            "only {share:.3} of {publisher}'s frames were decoded"
        );
        assert_tone(heard, frequency);
        sees.task.stop().expect("video receiver");
        hears.task.stop().expect("audio receiver");
    }
    eprintln!("datagrams the relay dropped: {}", relay.lost());
    assert!(relay.lost() > 0, "the link was lossy");
    for task in senders.into_iter().flatten() {
        task.stop().expect("sender");
    }
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
}

/// Decoded frames of `receiver` until one is `wanted`; `what` names it in the failure.
async fn decoded_until(
    receiver: &mut VideoReceiver,
    what: &str,
    mut wanted: impl FnMut(&DecodedVideo) -> bool,
) -> DecodedVideo {
    let watch = async {
        loop {
            let decoded = next_decoded(receiver).await;
            if wanted(&decoded) {
                return decoded;
            }
        }
    };
    tokio::time::timeout(DEADLINE, watch)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

/// The send-side bandwidth estimate steers the encoder. Alice's video first climbs to its top
/// layer (640×360, which Bob asked for by default). Then her uplink narrows to 500 kbit/s: her
/// estimate falls under it, the encoder stops the top layer (which needs a third of its
/// 800 kbit/s beyond the 400 the lower two take), and the SFU gives Bob the middle layer
/// instead, still decoding with advancing stamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowing_uplink_turns_the_top_layer_off() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const UPLINK_BPS: u64 = 500_000;
    let sfu = common::start_sfu_with(KEY, SECRET, |config| {
        config.media.node_ip = Some(RELAY_MEDIA_IP);
    })
    .await;
    let relay = Relay::start(sfu.local_addr(), sfu.media_addr().port()).await;
    let token = |identity| join_token(KEY, SECRET, "uplink", identity);
    let alice_options = RoomOptions {
        bind_ip: Some(OUTAGE_CLIENT_IP),
        ..RoomOptions::default()
    };
    let (alice, _alice_events) = Room::connect(&relay.url, &token("alice"), alice_options)
        .await
        .expect("alice joined");
    let bob_url = format!("http://{}", sfu.local_addr());
    let (bob, mut bob_events) = join_room(&bob_url, &token("bob")).await;
    let options = small_camera(VideoCodec::Vp8);
    let camera = alice.publish_track(options.clone()).await.expect("camera");
    let pattern = TestPattern::new(I420Layout::new(640, 360).expect("valid"), 30);
    let sender = pipeline::send_video(camera.clone(), &options, Box::new(pattern)).expect("sender");
    let (_, track) = subscribed_track(&mut bob_events, "alice", "alice's camera").await;
    let mut sees = pipeline::receive_video(track).expect("video decoder");

    decoded_until(&mut sees, "640×360 frame before the squeeze", |d| {
        d.frame.width() == 640
    })
    .await;
    let before = camera.feedback().borrow().available_bitrate_bps;
    relay.limit_upload(UPLINK_BPS, Duration::from_millis(200));
    let mut feedback = camera.feedback();
    let squeezed = tokio::time::timeout(
        DEADLINE,
        feedback.wait_for(|f| f.available_bitrate_bps > 0 && f.available_bitrate_bps < UPLINK_BPS),
    )
    .await
    .map(|f| f.map(|f| f.available_bitrate_bps));
    let after = squeezed
        .unwrap_or_else(|_| panic!("the estimate stayed at {:?}", *feedback.borrow()))
        .expect("the track is published");
    eprintln!("estimate before the squeeze {before} bit/s, after {after} bit/s");
    decoded_until(&mut sees, "middle-layer frame after the squeeze", |d| {
        d.frame.width() == 320
    })
    .await;
    // Still decoding: ten stamped middle-layer frames, counters rising. A frame the squeeze
    // damaged (its stamp unreadable) may come between them.
    let mut counters = Vec::new();
    while counters.len() < 10 {
        let decoded = decoded_until(&mut sees, "stamped middle-layer frame", |d| {
            d.frame.width() == 320 && d.stamp.is_some()
        })
        .await;
        counters.extend(decoded.stamp.map(|stamp| stamp.counter));
    }
    assert!(
        counters.windows(2).all(|pair| pair[0] < pair[1]),
        "counters went backwards: {counters:?}"
    );

    sender.stop().expect("sender");
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
    sees.task.stop().expect("receiver");
}
