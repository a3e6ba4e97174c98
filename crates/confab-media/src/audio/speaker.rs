//! The real speaker: a cpal output stream that, whenever the device needs sound, pulls 48 kHz
//! mono from the feed, resamples it to the device's rate and copies it to every channel. No
//! queue sits in front of the device: audio is mixed when it is about to be played. Follows
//! the devices like the microphone (on [`AudioSink::maintain`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::audio::resample::Resampler;
use crate::audio::sink::{AudioFeed, AudioSink};
use crate::audio::tone::SAMPLE_RATE;
use crate::device::audio::{AudioDevices, OpenedDevice, StreamThread, open_or_default};
use crate::device::follow::{DeviceFollower, DeviceSwitch, Liveness};
use crate::device::{DeviceChoice, DeviceError, DeviceEvent, DeviceInfo, DeviceKind};
use crate::sync::lock;
use crate::video::source::CaptureError;

pub struct Speaker {
    devices: Arc<AudioDevices>,
    follower: DeviceFollower,
    /// What every stream this speaker opens plays; kept across device switches.
    feed: Arc<Mutex<Option<AudioFeed>>>,
    output: Option<OpenOutput>,
}

struct OpenOutput {
    device: OpenedDevice,
    liveness: Arc<Mutex<Liveness>>,
    _stream: StreamThread,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("device", &self.device())
            .finish()
    }
}

impl Speaker {
    /// Opens `choice` (or the default, if that speaker is not connected), playing silence
    /// until [`AudioSink::start`].
    pub fn open(
        devices: Arc<AudioDevices>,
        choice: DeviceChoice,
        events: Option<broadcast::Receiver<DeviceEvent>>,
        report: Option<broadcast::Sender<DeviceEvent>>,
    ) -> Result<(Self, DeviceSwitch), DeviceError> {
        let follower = DeviceFollower::new(DeviceKind::Speaker, choice, events, report);
        let switch = follower.switch();
        let mut speaker = Self {
            devices,
            follower,
            feed: Arc::new(Mutex::new(None)),
            output: None,
        };
        let preferred = speaker.follower.preferred().clone();
        speaker.reopen(preferred)?;
        Ok((speaker, switch))
    }

    pub fn device(&self) -> Option<&DeviceInfo> {
        self.output.as_ref().map(|output| &output.device.info)
    }

    fn reopen(&mut self, choice: DeviceChoice) -> Result<(), DeviceError> {
        let previous = self.output.take().map(|output| output.device.info);
        let liveness = Arc::new(Mutex::new(Liveness::new()));
        let (device, stream) = open_or_default(&choice, |choice| {
            self.devices.open_output(choice, |device| {
                let resampler = device.resampler(SAMPLE_RATE, device.sample_rate)?;
                Ok(Filler {
                    feed: self.feed.clone(),
                    resampler,
                    pending: VecDeque::new(),
                    liveness: liveness.clone(),
                }
                .into_callback())
            })
        })?;
        tracing::info!(
            id = %device.info.id,
            rate = device.sample_rate,
            channels = device.channels,
            "speaker open"
        );
        if let Some(previous) = previous.filter(|p| p.id != device.info.id) {
            self.follower.report_switch(&previous, &device.info);
        }
        self.output = Some(OpenOutput {
            device,
            liveness,
            _stream: stream,
        });
        Ok(())
    }
}

/// What one output stream's callback owns: the feed it pulls from, the conversion to the
/// device's rate and what is left of the last frame.
struct Filler {
    feed: Arc<Mutex<Option<AudioFeed>>>,
    resampler: Resampler,
    /// Converted samples the device has not taken yet (less than one frame's worth).
    pending: VecDeque<f32>,
    liveness: Arc<Mutex<Liveness>>,
}

impl Filler {
    fn into_callback(mut self) -> impl FnMut(&mut [f32]) + Send + 'static {
        move |out: &mut [f32]| self.fill(out)
    }

    fn fill(&mut self, out: &mut [f32]) {
        while self.pending.len() < out.len() {
            let Some(feed) = lock(&self.feed).clone() else {
                break;
            };
            let frame = feed();
            if let Err(error) = self.resampler.push(&frame) {
                tracing::warn!(%error, "speaker resampling failed; playing silence");
                break;
            }
            let ready = self.resampler.ready();
            self.pending
                .extend(self.resampler.pull(ready).unwrap_or_default());
        }
        for sample in out.iter_mut() {
            // Short of audio (no feed yet, or a failure): silence, never old audio.
            *sample = self.pending.pop_front().unwrap_or(0.0);
        }
        lock(&self.liveness).moved();
    }
}

impl AudioSink for Speaker {
    fn start(&mut self, feed: AudioFeed) {
        *lock(&self.feed) = Some(feed);
    }

    fn maintain(&mut self) -> Result<(), CaptureError> {
        let stalled = self
            .output
            .as_ref()
            .is_some_and(|output| lock(&output.liveness).stalled());
        let current = self.output.as_ref().map(|output| &output.device.info);
        if let Some(choice) = self.follower.next_device(current, stalled) {
            self.reopen(choice)
                .map_err(|error| CaptureError::Gone(error.to_string()))?;
        }
        if self.output.is_none() {
            return Err(CaptureError::Gone("no speaker".into()));
        }
        Ok(())
    }
}
