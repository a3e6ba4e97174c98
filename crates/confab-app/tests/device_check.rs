//! The device check before joining, against a private PulseAudio server whose devices are
//! virtual (null sinks and a remapped source): the app lists them with their names, remembers
//! the picks in its config directory, meters the picked microphone while a tone plays into it
//! (and shows silence when it stops), and plays its chime on the picked speaker — recorded
//! from that speaker's monitor, both notes at their pitch; in a meeting, picking another
//! speaker moves the voices to it.
//!
//! One test, because the server is named by `PULSE_SERVER` in this process's environment,
//! set once before any other thread of this binary exists.
#![allow(unsafe_code)]

#[path = "shared/apps.rs"]
mod apps;
#[path = "../../confab-media/tests/shared/pulse.rs"]
mod pulse;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apps::loopback_options;
use confab_app::AppCore;
use confab_app::media::{Sources, open_microphone};
use confab_app::secrets::SecretStore;
use confab_ipc::devices::{DeviceList, DeviceSlot};
use confab_ipc::meeting::{HostArgs, JoinArgs, MediaChoice};
use confab_media::audio::analysis::dominant_frequency;
use confab_media::audio::source::AudioSource;
use confab_media::device::audio::AudioDevices;
use confab_meeting::Invite;
use pulse::{PulseServer, TWO_OF_EACH, TonePlayer};

const DEADLINE: Duration = Duration::from_secs(15);

fn app_at(config_dir: &Path) -> AppCore {
    AppCore::new(loopback_options(
        config_dir.join("downloads"),
        Sources::Devices,
        Some(config_dir.to_path_buf()),
        SecretStore::session(),
    ))
}

/// Reads the app's microphone level until `wanted` holds, within the deadline.
async fn level_until(app: &AppCore, what: &str, wanted: impl Fn(f32) -> bool) -> f32 {
    let mut every = tokio::time::interval(Duration::from_millis(50));
    let mut last = 0.0;
    let reached = tokio::time::timeout(DEADLINE, async {
        loop {
            every.tick().await;
            last = app.preview_level().await;
            if wanted(last) {
                return last;
            }
        }
    })
    .await;
    reached.unwrap_or_else(|_| panic!("the level never showed {what}; last {last}"))
}

#[test]
fn the_device_check_lists_remembers_meters_and_chimes_on_real_devices() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let server = PulseServer::start(TWO_OF_EACH);
    // SAFETY: the only test in this binary sets the variable before it starts any thread,
    // and nothing else in the process touches the environment meanwhile.
    unsafe { std::env::set_var("PULSE_SERVER", server.address()) };
    let config_dir = std::env::temp_dir().join(format!("confab-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config_dir);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(check(&config_dir));
    let _ = std::fs::remove_dir_all(&config_dir);
}

async fn check(config_dir: &Path) {
    let devices = Arc::new(AudioDevices::new().expect("audio host"));
    let app = app_at(config_dir);

    let listed = app.list_devices().await;
    assert_eq!(listed.chosen, Default::default(), "nothing picked yet");
    let named = |list: &DeviceList, slot, id: &str| {
        list.options(slot)
            .iter()
            .find(|d| d.id == id)
            .map(|d| (d.name.clone(), d.is_default))
    };
    assert_eq!(
        named(&listed, DeviceSlot::Microphone, "confab_mic"),
        Some(("Confab-Mic".into(), false))
    );
    assert_eq!(
        named(&listed, DeviceSlot::Speaker, "confab_speaker"),
        Some(("Confab-Speaker".into(), false))
    );
    assert!(
        listed
            .speakers
            .iter()
            .any(|d| d.id == "fallback_speaker" && d.is_default)
    );

    app.choose_device(DeviceSlot::Microphone, Some("confab_mic".into()))
        .await
        .expect("picked");
    app.choose_device(DeviceSlot::Speaker, Some("confab_speaker".into()))
        .await
        .expect("picked");

    // The picked microphone is metered: a tone into it shows, its silence shows.
    let talker = TonePlayer::start(&devices, "mic_feed", 440.0);
    let started = app.start_preview().await.expect("the check opens");
    assert_eq!(started.microphone_error, None);
    let loud = level_until(&app, "the tone", |level| level > 0.6).await;
    drop(talker);
    let quiet = level_until(&app, "silence", |level| level < 0.2).await;
    assert!(loud > quiet);
    app.stop_preview().await;
    assert_eq!(
        app.preview_level().await,
        0.0,
        "a closed check meters nothing"
    );

    // The chime plays on the picked speaker, not the default: both notes reach its monitor.
    let ear_devices = devices.clone();
    let recording = tokio::task::spawn_blocking(move || {
        let mut ear = open_microphone(ear_devices, Some("confab_speaker.monitor")).expect("ear");
        let mut heard = BTreeSet::new();
        let deadline = Instant::now() + DEADLINE;
        while heard.len() < 2 && Instant::now() < deadline {
            // 100 ms windows: five 20 ms frames.
            let window: Vec<f32> = (0..5)
                .flat_map(|_| ear.capture().expect("capture"))
                .collect();
            if let Some(pitch) = dominant_frequency(&window) {
                for note in [659.25, 880.0] {
                    if (pitch - note).abs() < 20.0 {
                        heard.insert(note as u32);
                    }
                }
            }
        }
        heard
    });
    // Until the ear hears both notes, chime again (the monitor may start late).
    let chimes = async {
        while !recording.is_finished() {
            app.play_test_sound().await.expect("the chime plays");
        }
    };
    tokio::time::timeout(DEADLINE * 2, chimes)
        .await
        .expect("the chimes end");
    let heard = recording.await.expect("the ear");
    assert_eq!(
        heard,
        BTreeSet::from([659, 880]),
        "the notes the speaker played"
    );

    // During a meeting, picking another speaker moves the voices to it.
    a_speaker_picked_during_a_meeting_takes_over_the_voices(&app, &devices).await;

    // Another run of the app remembers the picks.
    drop(app);
    let again = app_at(config_dir).list_devices().await;
    assert_eq!(again.chosen.microphone.as_deref(), Some("confab_mic"));
    assert_eq!(
        again.chosen.speaker.as_deref(),
        Some("fallback_speaker"),
        "the pick made during the meeting"
    );
    assert_eq!(again.chosen.camera, None);
}

/// The app (speaker `confab_speaker` picked) hosts; a guest with the test tone joins. Its
/// voice is heard on `confab_speaker`'s monitor; after `fallback_speaker` is picked it is
/// heard there.
async fn a_speaker_picked_during_a_meeting_takes_over_the_voices(
    app: &AppCore,
    devices: &Arc<AudioDevices>,
) {
    let talker = apps::app("talker");
    let info = app
        .host(HostArgs {
            name: "Ada".into(),
            title: "Sound".into(),
            waiting_room: false,
            media: MediaChoice::default(),
            on_server: false,
        })
        .await
        .expect("hosted");
    let invite = Invite::parse(info.invite.as_deref().expect("an invitation")).expect("link");
    talker
        .join(JoinArgs {
            code: invite.code,
            host: invite.host,
            name: "Bob".into(),
            media: MediaChoice {
                camera: false,
                microphone: true,
            },
        })
        .await
        .expect("joined");
    hears(devices, "confab_speaker.monitor", 440.0).await;
    app.choose_device(DeviceSlot::Speaker, Some("fallback_speaker".into()))
        .await
        .expect("picked during the meeting");
    hears(devices, "fallback_speaker.monitor", 440.0).await;
    app.end().await.expect("ended");
}

/// Records `monitor` until a 100 ms window's pitch is `pitch`, within the deadline.
async fn hears(devices: &Arc<AudioDevices>, monitor: &str, pitch: f64) {
    let (devices, monitor_id) = (devices.clone(), monitor.to_owned());
    let heard = tokio::task::spawn_blocking(move || {
        let mut ear = open_microphone(devices, Some(&monitor_id)).expect("ear");
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            let window: Vec<f32> = (0..5)
                .flat_map(|_| ear.capture().expect("capture"))
                .collect();
            if dominant_frequency(&window).is_some_and(|found| (found - pitch).abs() < 20.0) {
                return true;
            }
        }
        false
    })
    .await
    .expect("the ear");
    assert!(heard, "{pitch} Hz never reached {monitor}");
}
