//! The app's media in a meeting: our camera and microphone published (or muted), every
//! subscribed video track decoded to its newest frame (what the frame channel serves to the
//! tiles), and every subscribed audio track mixed and played.
//!
//! Devices can be missing: a meeting without a camera, microphone or speaker is normal, so
//! each failure here is reported and the meeting goes on.
//!
//! [`Sources::Test`] puts the stamped test pattern and a tone behind the same source traits as
//! the camera and the microphone: for machines with no camera (CI) and for end-to-end tests
//! that read the frame counter back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use confab_ipc::devices::{DeviceSelection, DeviceSlot, MediaPreferences, VideoQuality};
use confab_ipc::meeting::ShareTargetView;
use confab_media::audio::microphone::Microphone;
use confab_media::audio::processing::{AudioProcessor, ProcessingSettings};
use confab_media::audio::source::{AudioSource, ProcessedSource, ToneSource};
use confab_media::audio::speaker::Speaker;
use confab_media::device::audio::AudioDevices;
use confab_media::device::camera::{Camera, CameraRequest};
use confab_media::device::follow::DeviceSwitch;
use confab_media::device::{DeviceChoice, DeviceError};
use confab_media::i420::{I420Layout, VideoFrame};
use confab_media::pipeline::{self, AudioPlayout, DecodedVideo, MediaTask};
use confab_media::screen::{self, ShareKind, ShareOptions};
use confab_media::video::source::{CaptureError, CapturedFrame, TestPattern, VideoSource};
use confab_rtc::room::{
    Layer, LocalTrack, RemoteTrack, Room, TrackControl, TrackKind, TrackOptions, VideoCodec,
};
use tokio::sync::watch;

use crate::lock;

/// The newest frame of each video track shown in a tile, by track sid: decoded ones, and our
/// own camera's (the self view).
pub type FrameSources = Arc<Mutex<HashMap<String, FrameFeed>>>;

/// Where a track's newest frame comes from.
#[derive(Debug, Clone)]
pub enum FrameFeed {
    /// A subscribed track's decoded frames, and how to ask the server for the size tiles
    /// show it at.
    Decoded(watch::Receiver<Option<DecodedVideo>>, TrackControl),
    /// Our own camera, before encoding.
    Local(watch::Receiver<Option<Arc<VideoFrame>>>),
}

/// A video source that also shows what it captures in our own tile, copying a frame only
/// while a tile watches.
struct PreviewSource {
    inner: Box<dyn VideoSource>,
    preview: watch::Sender<Option<Arc<VideoFrame>>>,
}

impl VideoSource for PreviewSource {
    fn layout(&self) -> I420Layout {
        self.inner.layout()
    }

    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        let captured = self.inner.capture()?;
        // One receiver is the registry's own; more means a tile is open.
        if self.preview.receiver_count() > 1 {
            self.preview
                .send_replace(Some(Arc::new(captured.frame.clone())));
        }
        Ok(captured)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no camera: {0}")]
    Camera(String),
    #[error("no microphone: {0}")]
    Microphone(String),
    #[error("no speaker: {0}")]
    Speaker(String),
    #[error("the screen cannot be shared: {0}")]
    Screen(String),
    #[error("{0}")]
    Publish(String),
}

/// Where our camera and microphone come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sources {
    /// The system's default camera and microphone.
    #[default]
    Devices,
    /// The stamped test pattern (1280×720, 30 fps) and a 440 Hz tone.
    Test,
}

/// One of our published tracks and the thread feeding it.
#[derive(Debug)]
struct Published {
    track: LocalTrack,
    task: MediaTask,
}

#[derive(Debug, Default)]
pub struct CallMedia {
    sources: Sources,
    /// The devices the user picked (None: the system's default).
    chosen: DeviceSelection,
    /// Microphone processing and camera quality.
    preferences: MediaPreferences,
    frames: FrameSources,
    decoding: HashMap<String, MediaTask>,
    playing: HashMap<String, MediaTask>,
    camera: Option<Published>,
    microphone: Option<Published>,
    screen: Option<Published>,
    devices: Option<Arc<AudioDevices>>,
    processor: Option<Arc<AudioProcessor>>,
    playout: Option<AudioPlayout>,
    /// Move the running microphone and speaker streams to another device.
    microphone_switch: Option<DeviceSwitch>,
    speaker_switch: Option<DeviceSwitch>,
}

impl CallMedia {
    pub fn new(
        frames: FrameSources,
        sources: Sources,
        chosen: DeviceSelection,
        preferences: MediaPreferences,
    ) -> Self {
        Self {
            sources,
            chosen,
            preferences,
            frames,
            ..Self::default()
        }
    }

    /// Turns the camera on (publishing it the first time) or off (muted: nothing is sent).
    /// Returns the camera track's sid while it is on.
    pub async fn set_camera(
        &mut self,
        room: &Room,
        on: bool,
    ) -> Result<Option<String>, MediaError> {
        if let Some(camera) = &self.camera {
            set_muted(&camera.track, !on).await?;
            return Ok(on.then(|| camera.track.sid()));
        }
        if !on {
            return Ok(None);
        }
        let source = camera_source(self.sources, self.chosen.camera.as_deref())?;
        let camera = self
            .publish_video(room, self.camera_options(), source)
            .await?;
        let sid = camera.track.sid();
        self.camera = Some(camera);
        Ok(Some(sid))
    }

    /// Turns the microphone on (publishing it the first time) or mutes it. Returns its sid.
    pub async fn set_microphone(
        &mut self,
        room: &Room,
        on: bool,
    ) -> Result<Option<String>, MediaError> {
        if let Some(microphone) = &self.microphone {
            set_muted(&microphone.track, !on).await?;
            return Ok(Some(microphone.track.sid()));
        }
        if !on {
            return Ok(None);
        }
        let source = self.microphone_source()?;
        let track = room
            .publish_track(TrackOptions::microphone())
            .await
            .map_err(|error| MediaError::Publish(error.to_string()))?;
        let task = pipeline::send_audio(track.clone(), source, true)
            .map_err(|error| MediaError::Publish(error.to_string()))?;
        let sid = track.sid();
        self.microphone = Some(Published { track, task });
        Ok(Some(sid))
    }

    /// Shares `source` (from [`share_source`]) at its own size, replacing a share under way,
    /// with our own tile showing it. Returns the share's track sid.
    pub async fn start_share(
        &mut self,
        room: &Room,
        source: Box<dyn VideoSource>,
    ) -> Result<String, MediaError> {
        self.stop_share().await;
        let layout = source.layout();
        let options = TrackOptions::screen_share(VideoCodec::Vp8, layout.width, layout.height);
        let share = self.publish_video(room, options, source).await?;
        let sid = share.track.sid();
        self.screen = Some(share);
        Ok(sid)
    }

    /// Publishes `source` as a video track, our own tile showing what it captures.
    async fn publish_video(
        &self,
        room: &Room,
        options: TrackOptions,
        source: Box<dyn VideoSource>,
    ) -> Result<Published, MediaError> {
        let (preview, shown) = watch::channel(None);
        let source = Box::new(PreviewSource {
            inner: source,
            preview,
        });
        let track = room
            .publish_track(options.clone())
            .await
            .map_err(|error| MediaError::Publish(error.to_string()))?;
        let task = pipeline::send_video(track.clone(), &options, source)
            .map_err(|error| MediaError::Publish(error.to_string()))?;
        lock(&self.frames).insert(track.sid(), FrameFeed::Local(shown));
        Ok(Published { track, task })
    }

    /// Stops our share (capture first, so nothing more of the screen is read): everyone
    /// sees it go. Nothing happens without one.
    pub async fn stop_share(&mut self) {
        let Some(share) = self.screen.take() else {
            return;
        };
        lock(&self.frames).remove(&share.track.sid());
        // Joining the capture thread takes up to a frame's time: not on the runtime's threads.
        match tokio::task::spawn_blocking(move || share.task.stop()).await {
            Ok(Err(error)) => tracing::debug!(%error, "the share's capture had failed"),
            Err(error) => tracing::warn!(%error, "stopping the share's capture"),
            Ok(Ok(())) => {}
        }
        if let Err(error) = share.track.unpublish().await {
            tracing::debug!(%error, "the share was not unpublished");
        }
    }

    /// Whether the share's capture still runs (a shared window closed, a portal stopped it).
    pub fn share_running(&self) -> bool {
        self.screen
            .as_ref()
            .is_some_and(|share| !share.task.is_finished())
    }

    /// A subscribed track: video is decoded for the tiles, audio played.
    pub fn track_subscribed(&mut self, track: RemoteTrack) {
        let sid = track.sid().to_owned();
        match track.kind() {
            TrackKind::Video => {
                let control = track.control();
                match pipeline::receive_video(track) {
                    Ok(receiver) => {
                        lock(&self.frames)
                            .insert(sid.clone(), FrameFeed::Decoded(receiver.frames, control));
                        self.decoding.insert(sid, receiver.task);
                    }
                    Err(error) => tracing::warn!(%sid, %error, "video not decoded"),
                }
            }
            TrackKind::Audio => match self.playout() {
                Some(playout) => match playout.add_track(track) {
                    Ok(task) => {
                        self.playing.insert(sid, task);
                    }
                    Err(error) => tracing::warn!(%sid, %error, "audio not played"),
                },
                None => tracing::info!(%sid, "no speaker: audio not played"),
            },
        }
    }

    pub fn track_unsubscribed(&mut self, sid: &str) {
        lock(&self.frames).remove(sid);
        for task in [self.decoding.remove(sid), self.playing.remove(sid)]
            .into_iter()
            .flatten()
        {
            if let Err(error) = task.stop() {
                tracing::debug!(%sid, %error, "stopping a track's thread");
            }
        }
    }

    /// Stops everything: decoders, playout, our tracks' encoders.
    pub fn stop(&mut self) {
        lock(&self.frames).clear();
        let published = [
            self.camera.take(),
            self.microphone.take(),
            self.screen.take(),
        ]
        .into_iter()
        .flatten()
        .map(|published| published.task);
        let tasks: Vec<MediaTask> = self
            .decoding
            .drain()
            .chain(self.playing.drain())
            .map(|(_, task)| task)
            .chain(published)
            .collect();
        for task in tasks {
            let _ = task.stop();
        }
        if let Some(playout) = self.playout.take() {
            let _ = playout.stop();
        }
    }

    fn audio_devices(&mut self) -> Option<(Arc<AudioDevices>, Arc<AudioProcessor>)> {
        if self.devices.is_none() {
            match (
                AudioDevices::new(),
                AudioProcessor::new(processing_settings(self.preferences)),
            ) {
                (Ok(devices), Ok(processor)) => {
                    self.devices = Some(Arc::new(devices));
                    self.processor = Some(Arc::new(processor));
                }
                (devices, processor) => {
                    tracing::warn!(
                        devices = ?devices.err(),
                        processing = ?processor.err(),
                        "no audio"
                    );
                    return None;
                }
            }
        }
        Some((self.devices.clone()?, self.processor.clone()?))
    }

    /// The speaker, started the first time a voice arrives (none on a machine without one).
    fn playout(&mut self) -> Option<&AudioPlayout> {
        if self.playout.is_none() {
            let (devices, processor) = self.audio_devices()?;
            let choice = DeviceChoice::from_saved(self.chosen.speaker.as_deref());
            let speaker = match Speaker::open(devices, choice, None, None) {
                Ok((speaker, switch)) => {
                    self.speaker_switch = Some(switch);
                    speaker
                }
                Err(error) => {
                    tracing::info!(%error, "no speaker");
                    return None;
                }
            };
            match AudioPlayout::start(Box::new(speaker), Some(processor)) {
                Ok(playout) => self.playout = Some(playout),
                Err(error) => tracing::warn!(%error, "playout did not start"),
            }
        }
        self.playout.as_ref()
    }

    fn microphone_source(&mut self) -> Result<Box<dyn AudioSource>, MediaError> {
        if self.sources == Sources::Test {
            return Ok(Box::new(ToneSource::new(440.0, 0.3)));
        }
        let (devices, processor) = self
            .audio_devices()
            .ok_or_else(|| MediaError::Microphone("audio is not available".into()))?;
        let (microphone, switch) =
            open_switchable_microphone(devices, self.chosen.microphone.as_deref())?;
        self.microphone_switch = Some(switch);
        Ok(Box::new(ProcessedSource::new(microphone, processor)))
    }

    /// The camera as the preferences ask: all three layers, or up to 360p or 180p.
    fn camera_options(&self) -> TrackOptions {
        let top = match self.preferences.video_quality {
            VideoQuality::High => Layer::High,
            VideoQuality::Medium => Layer::Medium,
            VideoQuality::Low => Layer::Low,
        };
        TrackOptions::camera_up_to(VideoCodec::Vp8, top)
    }

    /// New preferences: the microphone's processing changes at once; the camera's quality
    /// applies from its next start.
    pub fn set_preferences(&mut self, preferences: MediaPreferences) {
        self.preferences = preferences;
        if let Some(processor) = &self.processor {
            processor.set_settings(processing_settings(preferences));
        }
    }

    /// Moves to the device picked for `slot` during the meeting: the microphone and the
    /// speaker streams switch in place (within their next period), the camera is reopened
    /// under the same published track. Devices not started yet just use it when they start.
    pub async fn switch_device(
        &mut self,
        slot: DeviceSlot,
        id: Option<&str>,
    ) -> Result<(), MediaError> {
        self.chosen.set(slot, id.map(str::to_owned));
        let choice = DeviceChoice::from_saved(id);
        match slot {
            DeviceSlot::Microphone => {
                if let Some(switch) = &self.microphone_switch {
                    switch.switch_to(choice);
                }
            }
            DeviceSlot::Speaker => {
                if let Some(switch) = &self.speaker_switch {
                    switch.switch_to(choice);
                }
            }
            DeviceSlot::Camera => self.reopen_camera(id).await?,
        }
        Ok(())
    }

    /// Feeds the published camera track from the camera `id` instead (a test pattern stays).
    async fn reopen_camera(&mut self, id: Option<&str>) -> Result<(), MediaError> {
        if self.sources == Sources::Test {
            return Ok(());
        }
        let Some(camera) = self.camera.take() else {
            return Ok(());
        };
        let sources = self.sources;
        let id = id.map(str::to_owned);
        let old = camera.task;
        let opened = tokio::task::spawn_blocking(move || {
            // The old camera lets go before the new one opens (it may be the same device).
            let _ = old.stop();
            camera_source(sources, id.as_deref())
        })
        .await
        .map_err(|error| MediaError::Camera(error.to_string()))?;
        let track = camera.track;
        let source = match opened {
            Ok(source) => source,
            Err(error) => {
                // Nothing to send: the track goes, and turning the camera on publishes anew.
                tracing::warn!(%error, "the picked camera did not open");
                lock(&self.frames).remove(&track.sid());
                if let Err(unpublished) = track.unpublish().await {
                    tracing::debug!(%unpublished, "the old camera track stays");
                }
                return Err(error);
            }
        };
        let options = self.camera_options();
        let (preview, shown) = watch::channel(None);
        let source = Box::new(PreviewSource {
            inner: source,
            preview,
        });
        let task = pipeline::send_video(track.clone(), &options, source)
            .map_err(|error| MediaError::Publish(error.to_string()))?;
        lock(&self.frames).insert(track.sid(), FrameFeed::Local(shown));
        self.camera = Some(Published { track, task });
        Ok(())
    }
}

/// The processing the preferences ask for (the high-pass filter always runs).
fn processing_settings(preferences: MediaPreferences) -> ProcessingSettings {
    ProcessingSettings {
        echo_cancellation: preferences.echo_cancellation,
        noise_suppression: preferences.noise_suppression,
        auto_gain: preferences.auto_gain,
        high_pass: true,
    }
}

/// The id the test screen is shared by (`CONFAB_TEST_MEDIA=1`).
pub const TEST_SCREEN: &str = "test-screen";

/// The screens and windows that can be shared (blocking: it asks the display server).
pub fn share_targets(sources: Sources) -> Result<Vec<ShareTargetView>, MediaError> {
    if sources == Sources::Test {
        return Ok(vec![ShareTargetView {
            id: TEST_SCREEN.to_owned(),
            is_screen: true,
            name: "Test screen".to_owned(),
            width: 1920,
            height: 1080,
        }]);
    }
    let targets = screen::backend()
        .and_then(|backend| backend.targets())
        .map_err(|error| MediaError::Screen(error.to_string()))?;
    Ok(targets
        .into_iter()
        .map(|target| ShareTargetView {
            is_screen: target.kind == ShareKind::Screen,
            id: target.id,
            name: target.name,
            width: target.width,
            height: target.height,
        })
        .collect())
}

/// What a share captures: the screen or window `id`, or the test screen (the stamped
/// pattern at 1920×1080, 15 fps). Blocking: a desktop's picker may ask the user first.
pub fn share_source(sources: Sources, id: &str) -> Result<Box<dyn VideoSource>, MediaError> {
    if sources == Sources::Test {
        let layout =
            I420Layout::new(1920, 1080).map_err(|error| MediaError::Screen(error.to_string()))?;
        return Ok(Box::new(TestPattern::new(layout, 15)));
    }
    screen::backend()
        .and_then(|backend| backend.open(id, ShareOptions::default()))
        .map_err(|error| MediaError::Screen(error.to_string()))
}

/// The picked microphone (`id`; None or a missing one: the system default), unprocessed.
pub fn open_microphone(
    devices: Arc<AudioDevices>,
    id: Option<&str>,
) -> Result<Microphone, MediaError> {
    open_switchable_microphone(devices, id).map(|(microphone, _switch)| microphone)
}

/// [`open_microphone`], with the handle that moves it to another device.
fn open_switchable_microphone(
    devices: Arc<AudioDevices>,
    id: Option<&str>,
) -> Result<(Microphone, DeviceSwitch), MediaError> {
    Microphone::open(devices, DeviceChoice::from_saved(id), None, None)
        .map_err(|error| MediaError::Microphone(error.to_string()))
}

/// The camera: the picked one (`id`; None: the system default), or the test pattern.
pub fn camera_source(
    sources: Sources,
    id: Option<&str>,
) -> Result<Box<dyn VideoSource>, MediaError> {
    let request = CameraRequest::default();
    if sources == Sources::Test {
        let layout = I420Layout::new(request.width, request.height)
            .map_err(|error| MediaError::Camera(error.to_string()))?;
        return Ok(Box::new(TestPattern::new(layout, request.fps)));
    }
    let camera = match Camera::open(&DeviceChoice::from_saved(id), request) {
        Err(DeviceError::NotFound { .. }) if id.is_some() => {
            tracing::info!(?id, "the picked camera is not connected; using the default");
            Camera::open(&DeviceChoice::SystemDefault, request)
        }
        other => other,
    };
    camera
        .map(|camera| Box::new(camera) as Box<dyn VideoSource>)
        .map_err(|error| MediaError::Camera(error.to_string()))
}

async fn set_muted(track: &LocalTrack, muted: bool) -> Result<(), MediaError> {
    track
        .set_muted(muted)
        .await
        .map_err(|error| MediaError::Publish(error.to_string()))
}
