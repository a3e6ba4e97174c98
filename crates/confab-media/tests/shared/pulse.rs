//! A private PulseAudio server for the device tests, whose "devices" are null sinks and
//! remapped sources (virtual speakers and microphones) the test names; unplugging one is
//! unloading its module. And a tone player, the virtual talker in front of a microphone.
//!
//! A binary that uses it names the server in `PULSE_SERVER` before it starts any thread, so
//! each binary holds one test that owns its server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confab_media::audio::sink::{AudioFeed, AudioSink};
use confab_media::audio::speaker::Speaker;
use confab_media::audio::tone::Tone;
use confab_media::device::DeviceChoice;
use confab_media::device::audio::AudioDevices;
use confab_media::sync::lock;

const STARTUP: Duration = Duration::from_secs(15);

/// Two virtual speakers and two virtual microphones (each fed by a sink of its own) at
/// 44.1 kHz; the defaults are the fallbacks.
#[allow(dead_code)] // not every binary uses this set
pub const TWO_OF_EACH: &[&str] = &[
    "load-module module-null-sink sink_name=confab_speaker rate=44100 sink_properties=device.description=Confab-Speaker",
    "load-module module-null-sink sink_name=fallback_speaker rate=44100",
    "load-module module-null-sink sink_name=mic_feed rate=44100",
    "load-module module-remap-source master=mic_feed.monitor source_name=confab_mic source_properties=device.description=Confab-Mic",
    "load-module module-null-sink sink_name=fallback_feed rate=44100",
    "load-module module-remap-source master=fallback_feed.monitor source_name=fallback_mic",
    "set-default-sink fallback_speaker",
    "set-default-source fallback_mic",
];

pub struct PulseServer {
    child: Child,
    dir: PathBuf,
}

impl PulseServer {
    /// A server with the devices `script` makes (PulseAudio's own commands, one a line).
    pub fn start(script: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("confab-pulse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pulse dir");
        let socket = dir.join("native");
        let mut config = format!(
            "load-module module-native-protocol-unix socket={} auth-anonymous=1\n",
            socket.display()
        );
        for line in script {
            config.push_str(line);
            config.push('\n');
        }
        let config_path = dir.join("server.pa");
        std::fs::write(&config_path, config).expect("config");
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .args(["--log-target=stderr", "--log-level=warning"])
            .arg("-F")
            .arg(&config_path)
            .env("HOME", &dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("XDG_CONFIG_HOME", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio (cargo xtask setup installs it)");
        let server = Self { child, dir };
        let deadline = Instant::now() + STARTUP;
        while !server.pactl(&["info"]).status.success() {
            assert!(Instant::now() < deadline, "pulseaudio did not start");
            std::thread::sleep(Duration::from_millis(50)); // polling a server that is starting
        }
        server
    }

    pub fn address(&self) -> String {
        format!("unix:{}", self.dir.join("native").display())
    }

    pub fn pactl(&self, args: &[&str]) -> std::process::Output {
        Command::new("pactl")
            .env("PULSE_SERVER", self.address())
            .env("HOME", &self.dir)
            .args(args)
            .output()
            .expect("pactl")
    }

    /// Unplugs a device: unloads the module that made it.
    #[allow(dead_code)] // not every binary unplugs
    pub fn unplug(&self, device: &str) {
        let listing = self.pactl(&["list", "short", "modules"]);
        let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
        let module = listing
            .lines()
            .find(|line| {
                line.contains(&format!("sink_name={device} "))
                    || line.contains(&format!("source_name={device} "))
            })
            .and_then(|line| line.split_whitespace().next())
            .unwrap_or_else(|| panic!("no module made {device}: {listing}"));
        assert!(self.pactl(&["unload-module", module]).status.success());
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Plays a tone into a device until dropped.
pub struct TonePlayer {
    _speaker: Speaker,
}

impl TonePlayer {
    pub fn start(devices: &Arc<AudioDevices>, device: &str, frequency: f64) -> Self {
        let (mut speaker, _) =
            Speaker::open(devices.clone(), DeviceChoice::Id(device.into()), None, None)
                .expect("feed speaker");
        assert_eq!(speaker.device().map(|d| d.id.as_str()), Some(device));
        speaker.start(tone_feed(frequency));
        Self { _speaker: speaker }
    }
}

/// A tone, 20 ms whenever the speaker asks (a sink takes any length).
pub fn tone_feed(frequency: f64) -> AudioFeed {
    let tone = Mutex::new(Tone::new(frequency, 0.4));
    Arc::new(move || lock(&tone).next_frame())
}
