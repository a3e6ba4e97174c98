//! The real device path — cpal, PulseAudio's protocol, our resampling, Opus, the jitter
//! buffer — against a private PulseAudio server this test starts, whose "devices" are null
//! sinks and remapped sources (virtual speakers and microphones) at 44.1 kHz, so the 48 kHz
//! pipeline resamples both ways. Unplugging is unloading a device's module.
//!
//! One test, because the server is named by `PULSE_SERVER` in this process's environment,
//! set once before any other thread of this binary exists.
//!
//! Virtual devices start unevenly (an idle null sink's monitor delivers its first samples
//! after 1.2–1.7 s, then in blocks), so each check first waits for its tone to be steady,
//! and a second of it may hold one 200 ms window with a discontinuity (the CI machine runs
//! other tests' processes beside it).
#![allow(unsafe_code)]

#[path = "shared/pulse.rs"]
mod pulse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confab_media::audio::analysis::{dominant_frequency, tone_share};
use confab_media::audio::microphone::Microphone;
use confab_media::audio::opus::{FRAME_SAMPLES, OpusEncoder, OpusSettings};
use confab_media::audio::sink::{AudioSink, MAINTAIN_EVERY};
use confab_media::audio::source::AudioSource;
use confab_media::audio::speaker::Speaker;
use confab_media::audio::voice::RemoteVoice;
use confab_media::device::audio::AudioDevices;
use confab_media::device::watcher::DeviceWatcher;
use confab_media::device::{DeviceChoice, DeviceEvent, DeviceKind};
use confab_media::sync::lock;
use pulse::{PulseServer, TWO_OF_EACH, TonePlayer, tone_feed};
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(15);

fn open_microphone(
    devices: &Arc<AudioDevices>,
    id: &str,
    watcher: Option<&DeviceWatcher>,
) -> Microphone {
    let (microphone, _) = Microphone::open(
        devices.clone(),
        DeviceChoice::Id(id.into()),
        watcher.map(DeviceWatcher::subscribe),
        watcher.map(DeviceWatcher::reporter),
    )
    .expect("microphone");
    microphone
}

/// `seconds` of what `microphone` hears.
fn record(microphone: &mut Microphone, seconds: f64) -> Vec<f32> {
    let frames = (seconds * 50.0) as usize;
    (0..frames)
        .flat_map(|_| microphone.capture().expect("capture"))
        .collect()
}

/// Captures until `event` matches (with a deadline), returning how many frames came meanwhile.
fn capture_until(
    microphone: &mut Microphone,
    events: &mut broadcast::Receiver<DeviceEvent>,
    matches: impl Fn(&DeviceEvent) -> bool,
) -> usize {
    let deadline = Instant::now() + DEADLINE;
    let mut frames = 0;
    loop {
        while let Ok(event) = events.try_recv() {
            if matches(&event) {
                return frames;
            }
        }
        assert!(Instant::now() < deadline, "no such device event");
        assert_eq!(microphone.capture().expect("capture").len(), FRAME_SAMPLES);
        frames += 1;
    }
}

/// Records until `frequency` is steady — nine tenths of each of five 200 ms windows in a
/// row — within the deadline: a path that just started (or just switched devices) settles
/// first (the devices start unevenly, and the jitter buffer adapts to that).
fn wait_for_tone(microphone: &mut Microphone, frequency: f64) {
    let deadline = Instant::now() + DEADLINE;
    let mut steady = 0;
    while steady < 5 {
        let recent = record(microphone, 0.2);
        let share = tone_share(&recent, frequency);
        steady = if share > 0.9 { steady + 1 } else { 0 };
        assert!(
            Instant::now() < deadline,
            "{frequency} Hz never became steady: {share:.2} of the last 200 ms, dominant {:?}, \
             rms {:.4}",
            dominant_frequency(&recent),
            confab_media::audio::analysis::rms(&recent)
        );
    }
}

/// `samples` (a second or more) are `frequency`: the dominant frequency, and nine tenths of
/// the energy in all 200 ms windows but one (see the note at the top).
fn assert_tone(samples: &[f32], frequency: f64) {
    let windows: Vec<f64> = samples
        .chunks_exact(FRAME_SAMPLES * 10)
        .map(|window| tone_share(window, frequency))
        .collect();
    let steady = windows.iter().filter(|share| **share > 0.9).count();
    assert!(
        dominant_frequency(samples) == Some(frequency) && steady + 1 >= windows.len(),
        "{frequency} Hz: dominant {:?}, share per 200 ms {windows:.2?}, rms {:.3}",
        dominant_frequency(samples),
        confab_media::audio::analysis::rms(samples)
    );
}

#[test]
fn microphones_and_speakers_through_pulseaudio() {
    // `RUST_LOG=confab_media=info` shows the streams opening and switching.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let server = PulseServer::start(TWO_OF_EACH);
    // SAFETY: the only test in this binary sets the variable before it starts any thread,
    // and nothing else in the process touches the environment meanwhile.
    unsafe { std::env::set_var("PULSE_SERVER", server.address()) };
    let devices = Arc::new(AudioDevices::new().expect("audio host"));
    assert!(
        devices.host_name().contains("Pulse"),
        "{}",
        devices.host_name()
    );

    listing_has_stable_ids_and_no_monitors(&devices);
    a_tone_goes_through_mic_opus_jitter_buffer_and_speaker(&devices);
    unplugging_the_microphone_moves_capture_to_the_default(&server, &devices);
    unplugging_the_speaker_moves_playout_to_the_default(&server, &devices);
}

fn listing_has_stable_ids_and_no_monitors(devices: &AudioDevices) {
    let listed = devices.list().expect("list");
    let find = |kind, id: &str| listed.iter().find(|d| d.kind == kind && d.id == id);
    let mic = find(DeviceKind::Microphone, "confab_mic").expect("the virtual microphone");
    assert_eq!(mic.name, "Confab-Mic");
    assert!(!mic.is_default);
    assert!(find(DeviceKind::Microphone, "fallback_mic").is_some_and(|d| d.is_default));
    let speaker = find(DeviceKind::Speaker, "confab_speaker").expect("the virtual speaker");
    assert_eq!(speaker.name, "Confab-Speaker");
    assert!(find(DeviceKind::Speaker, "fallback_speaker").is_some_and(|d| d.is_default));
    assert!(
        listed
            .iter()
            .all(|d| d.kind != DeviceKind::Microphone || !d.id.ends_with(".monitor")),
        "{listed:?}"
    );
}

/// A 440 Hz tone played into the virtual microphone, captured through cpal, resampled from
/// 44.1 kHz, Opus-encoded, put through the jitter buffer and decoded, played on the virtual
/// speaker (resampled back), and recorded from that speaker's monitor.
fn a_tone_goes_through_mic_opus_jitter_buffer_and_speaker(devices: &Arc<AudioDevices>) {
    let _talker = TonePlayer::start(devices, "mic_feed", 440.0);
    let mut microphone = open_microphone(devices, "confab_mic", None);
    assert_eq!(microphone.device_rate(), Some(44_100));
    let (mut speaker, _) = Speaker::open(
        devices.clone(),
        DeviceChoice::Id("confab_speaker".into()),
        None,
        None,
    )
    .expect("speaker");
    let mut ear = open_microphone(devices, "confab_speaker.monitor", None);
    // Two clocks, as in a meeting: the microphone's paces the sender, the speaker's takes
    // each frame out of the jitter buffer when the device needs it.
    let voice = Arc::new(Mutex::new(RemoteVoice::new().expect("voice")));
    let playing = voice.clone();
    speaker.start(Arc::new(move || {
        lock(&playing)
            .next_frame(Instant::now())
            .unwrap_or_else(|_| vec![0.0; FRAME_SAMPLES])
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let sender = std::thread::spawn(move || {
        let mut encoder = OpusEncoder::new(OpusSettings::default()).expect("encoder");
        let mut rtp_time = 0u64;
        while !flag.load(Ordering::Relaxed) {
            let frame = microphone.capture().expect("capture");
            let packet = encoder.encode(&frame).expect("encode");
            lock(&voice).push(rtp_time, packet, Instant::now());
            rtp_time += FRAME_SAMPLES as u64;
        }
        voice
    });
    // The first audio takes a moment to come round (stream start-up on both ends).
    wait_for_tone(&mut ear, 440.0);
    let heard = record(&mut ear, 1.0);
    stop.store(true, Ordering::Relaxed);
    let stats = lock(&sender.join().expect("sender thread")).stats();
    drop(speaker);
    assert!(stats.jitter.played > 50, "{stats:?}");
    assert_tone(&heard, 440.0);
}

fn unplugging_the_microphone_moves_capture_to_the_default(
    server: &PulseServer,
    devices: &Arc<AudioDevices>,
) {
    let watcher = DeviceWatcher::start(devices.clone(), Duration::from_millis(100)).expect("watch");
    let mut events = watcher.subscribe();
    let _usb = TonePlayer::start(devices, "mic_feed", 440.0);
    let _builtin = TonePlayer::start(devices, "fallback_feed", 880.0);
    let mut microphone = open_microphone(devices, "confab_mic", Some(&watcher));
    wait_for_tone(&mut microphone, 440.0);
    assert_tone(&record(&mut microphone, 1.0), 440.0);

    server.unplug("confab_mic");
    capture_until(
        &mut microphone,
        &mut events,
        |event| matches!(event, DeviceEvent::Removed(d) if d.id == "confab_mic"),
    );
    capture_until(&mut microphone, &mut events, |event| {
        matches!(event, DeviceEvent::Switched { kind: DeviceKind::Microphone, from, to }
            if from == "confab_mic" && to.id == "fallback_mic")
    });
    assert_eq!(
        microphone.device().map(|d| d.id.as_str()),
        Some("fallback_mic")
    );
    // Capture went on, now hearing the default microphone's talker.
    wait_for_tone(&mut microphone, 880.0);
    assert_tone(&record(&mut microphone, 1.0), 880.0);
}

fn unplugging_the_speaker_moves_playout_to_the_default(
    server: &PulseServer,
    devices: &Arc<AudioDevices>,
) {
    let watcher = DeviceWatcher::start(devices.clone(), Duration::from_millis(100)).expect("watch");
    let mut events = watcher.subscribe();
    let (mut speaker, _) = Speaker::open(
        devices.clone(),
        DeviceChoice::Id("confab_speaker".into()),
        Some(watcher.subscribe()),
        Some(watcher.reporter()),
    )
    .expect("speaker");
    let mut fallback_ear = open_microphone(devices, "fallback_speaker.monitor", None);
    speaker.start(tone_feed(660.0));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // What the playout thread does: keep the speaker on a working device.
    let playout = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            speaker.maintain().expect("a speaker to play on");
            std::thread::sleep(MAINTAIN_EVERY);
        }
        speaker.device().map(|d| d.id.clone())
    });
    // Nothing of the tone reaches the fallback speaker yet.
    let before = record(&mut fallback_ear, 0.5);
    assert!(tone_share(&before, 660.0) < 0.1);

    server.unplug("confab_speaker");
    capture_until(&mut fallback_ear, &mut events, |event| {
        matches!(event, DeviceEvent::Switched { kind: DeviceKind::Speaker, from, to }
            if from == "confab_speaker" && to.id == "fallback_speaker")
    });
    wait_for_tone(&mut fallback_ear, 660.0);
    assert_tone(&record(&mut fallback_ear, 1.0), 660.0);
    stop.store(true, Ordering::Relaxed);
    let now_on = playout.join().expect("playout thread");
    assert_eq!(now_on.as_deref(), Some("fallback_speaker"));
}
