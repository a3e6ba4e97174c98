//! The check before joining: the devices there are to pick, the picked camera's picture on
//! the frame channel (under [`PREVIEW_TRACK`]), the picked microphone's level, and a chime on
//! the picked speaker. Nothing here runs unless the user opens the check, and all of it
//! stops when they close it or join (a camera serves one reader at a time).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use confab_ipc::devices::{
    DeviceList, DeviceOption, DeviceSelection, PREVIEW_TRACK, PreviewStarted,
};
use confab_media::audio::analysis::rms;
use confab_media::audio::sink::AudioSink;
use confab_media::audio::source::{AudioSource, ToneSource};
use confab_media::audio::speaker::Speaker;
use confab_media::audio::tone::Tone;
use confab_media::device::audio::AudioDevices;
use confab_media::device::{DeviceChoice, DeviceInfo, DeviceKind, camera};
use confab_media::video::source::VideoSource;
use tokio::sync::watch;

use crate::lock;
use crate::media::{FrameFeed, FrameSources, MediaError, Sources, camera_source, open_microphone};

/// The ids the test sources are listed under (`CONFAB_TEST_MEDIA=1`).
const TEST_CAMERA: &str = "test-pattern";
const TEST_MICROPHONE: &str = "test-tone";

/// The level meter's floor: quieter than this shows as silence.
const METER_FLOOR_DB: f64 = -60.0;

/// The test chime: two notes, then a moment of silence for the device to drain.
const CHIME: [(f64, u32); 2] = [(659.25, 15), (880.0, 25)];
const CHIME_TAIL: Duration = Duration::from_millis(300);
const CHIME_AMPLITUDE: f32 = 0.25;

/// What is connected now, with the user's picks.
pub fn list_devices(sources: Sources, chosen: DeviceSelection) -> DeviceList {
    let audio = AudioDevices::new().and_then(|devices| devices.list());
    let audio = audio.unwrap_or_else(|error| {
        tracing::info!(%error, "no audio devices to list");
        Vec::new()
    });
    let of_kind = |kind: DeviceKind| -> Vec<DeviceOption> {
        audio
            .iter()
            .filter(|d| d.kind == kind)
            .map(option)
            .collect()
    };
    let (cameras, microphones) = match sources {
        Sources::Test => (
            vec![test_option(TEST_CAMERA, "Test pattern")],
            vec![test_option(TEST_MICROPHONE, "Test tone")],
        ),
        Sources::Devices => {
            let cameras = camera::list().unwrap_or_else(|error| {
                tracing::info!(%error, "no cameras to list");
                Vec::new()
            });
            (
                cameras.iter().map(option).collect(),
                of_kind(DeviceKind::Microphone),
            )
        }
    };
    DeviceList {
        cameras,
        microphones,
        speakers: of_kind(DeviceKind::Speaker),
        chosen,
    }
}

fn option(info: &DeviceInfo) -> DeviceOption {
    DeviceOption {
        id: info.id.clone(),
        name: info.name.clone(),
        is_default: info.is_default,
    }
}

fn test_option(id: &str, name: &str) -> DeviceOption {
    DeviceOption {
        id: id.to_owned(),
        name: name.to_owned(),
        is_default: true,
    }
}

/// The camera's picture and the microphone's level, each on a thread of its own, until
/// dropped.
#[derive(Debug)]
pub struct DevicePreview {
    frames: FrameSources,
    stop: Arc<AtomicBool>,
    /// The microphone's level now, 0 to 1, as `f32` bits.
    level: Arc<AtomicU32>,
    threads: Vec<JoinHandle<()>>,
}

impl DevicePreview {
    /// Opens the picked camera and microphone (blocking: devices take a moment to open). A
    /// device that does not open is reported in the answer; the other one runs.
    pub fn start(
        frames: &FrameSources,
        sources: Sources,
        chosen: &DeviceSelection,
    ) -> (Self, PreviewStarted) {
        let mut preview = Self {
            frames: frames.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            level: Arc::new(AtomicU32::new(0)),
            threads: Vec::new(),
        };
        let mut started = PreviewStarted::default();
        match camera_source(sources, chosen.camera.as_deref()) {
            Ok(camera) => {
                preview.show_camera(camera);
                started.camera_track = Some(PREVIEW_TRACK.to_owned());
            }
            Err(error) => started.camera_error = Some(error.to_string()),
        }
        match microphone(sources, chosen.microphone.as_deref()) {
            Ok(microphone) => preview.meter(microphone),
            Err(error) => started.microphone_error = Some(error.to_string()),
        }
        (preview, started)
    }

    /// The microphone's level now: 0 (silence, or below −60 dBFS) to 1 (full scale).
    pub fn level(&self) -> f32 {
        f32::from_bits(self.level.load(Ordering::Relaxed))
    }

    fn show_camera(&mut self, mut camera: Box<dyn VideoSource>) {
        let (shown, feed) = watch::channel(None);
        lock(&self.frames).insert(PREVIEW_TRACK.to_owned(), FrameFeed::Local(feed));
        let stop = self.stop.clone();
        self.threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match camera.capture() {
                    Ok(captured) => {
                        shown.send_replace(Some(Arc::new(captured.frame)));
                    }
                    Err(error) => {
                        tracing::info!(%error, "the camera preview stopped");
                        return;
                    }
                }
            }
        }));
    }

    fn meter(&mut self, mut microphone: Box<dyn AudioSource>) {
        let (stop, level) = (self.stop.clone(), self.level.clone());
        self.threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match microphone.capture() {
                    Ok(frame) => level.store(meter_level(&frame).to_bits(), Ordering::Relaxed),
                    Err(error) => {
                        tracing::info!(%error, "the microphone level stopped");
                        level.store(0f32.to_bits(), Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
}

impl Drop for DevicePreview {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        lock(&self.frames).remove(PREVIEW_TRACK);
        // Each thread ends within one frame of its device (a camera frame, 20 ms of sound),
        // which releases the device for the meeting.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn microphone(sources: Sources, id: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    if sources == Sources::Test {
        return Ok(Box::new(ToneSource::new(440.0, 0.3)));
    }
    let devices = AudioDevices::new().map_err(|error| MediaError::Microphone(error.to_string()))?;
    Ok(Box::new(open_microphone(Arc::new(devices), id)?))
}

/// A frame's loudness on the meter: its RMS in dBFS from −60 (0) to 0 (1).
fn meter_level(frame: &[f32]) -> f32 {
    let rms = rms(frame);
    if rms <= 0.0 {
        return 0.0;
    }
    let db = 20.0 * rms.log10();
    ((db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0) as f32
}

/// Plays the chime on the picked speaker (None or a missing one: the default); returns once
/// it has played (blocking).
pub fn play_test_sound(speaker: Option<&str>) -> Result<(), MediaError> {
    let speaker_error = |error: &dyn std::fmt::Display| MediaError::Speaker(error.to_string());
    let devices = AudioDevices::new().map_err(|error| speaker_error(&error))?;
    let (mut speaker, _switch) = Speaker::open(
        Arc::new(devices),
        DeviceChoice::from_saved(speaker),
        None,
        None,
    )
    .map_err(|error| speaker_error(&error))?;
    let chime = std::sync::Mutex::new(Chime::default());
    speaker.start(Arc::new(move || lock(&chime).next_frame()));
    let frames: u32 = CHIME.iter().map(|(_, frames)| frames).sum();
    // The device's own clock plays the chime; this thread keeps the speaker open meanwhile.
    std::thread::sleep(Duration::from_millis(u64::from(frames) * 20) + CHIME_TAIL);
    Ok(())
}

/// The chime as 20 ms frames, then silence.
#[derive(Debug)]
struct Chime {
    frame: u32,
    note: usize,
    tone: Tone,
}

impl Default for Chime {
    fn default() -> Self {
        Self {
            frame: 0,
            note: 0,
            tone: Tone::new(CHIME[0].0, CHIME_AMPLITUDE),
        }
    }
}

impl Chime {
    fn next_frame(&mut self) -> Vec<f32> {
        let mut end = 0;
        for (index, (frequency, frames)) in CHIME.iter().enumerate() {
            end += frames;
            if self.frame < end {
                if index != self.note {
                    self.note = index;
                    self.tone = Tone::new(*frequency, CHIME_AMPLITUDE);
                }
                self.frame += 1;
                return self.tone.next_frame();
            }
        }
        silence()
    }
}

fn silence() -> Vec<f32> {
    vec![0.0; confab_media::audio::opus::FRAME_SAMPLES]
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_media::audio::analysis::dominant_frequency;

    #[test]
    fn the_chime_plays_its_two_notes_then_silence() {
        let mut chime = Chime::default();
        let first: Vec<f32> = (0..CHIME[0].1).flat_map(|_| chime.next_frame()).collect();
        let second: Vec<f32> = (0..CHIME[1].1).flat_map(|_| chime.next_frame()).collect();
        let after = chime.next_frame();
        let near = |found: Option<f64>, want: f64| found.is_some_and(|f| (f - want).abs() < 15.0);
        assert!(near(dominant_frequency(&first), CHIME[0].0));
        assert!(near(dominant_frequency(&second), CHIME[1].0));
        assert_eq!(rms(&after), 0.0);
    }

    #[test]
    fn the_meter_maps_minus_sixty_to_zero_dbfs_onto_zero_to_one() {
        assert_eq!(meter_level(&[0.0; 960]), 0.0);
        assert_eq!(meter_level(&[0.0001; 960]), 0.0);
        assert!((meter_level(&[1.0; 960]) - 1.0).abs() < 1e-6);
        let half = meter_level(&[0.031_622_78; 960]); // −30 dBFS
        assert!((half - 0.5).abs() < 0.01, "{half}");
    }
}
