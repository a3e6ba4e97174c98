//! The real microphone: a cpal input stream at the device's own rate and channels, down-mixed
//! to mono, resampled to 48 kHz and cut into 20 ms frames. It follows the devices: another
//! choice, an unplugged microphone (to the system default), a returning one.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::audio::opus::FRAME_SAMPLES;
use crate::audio::resample::Resampler;
use crate::audio::source::AudioSource;
use crate::audio::tone::SAMPLE_RATE;
use crate::device::audio::{AudioDevices, OpenedDevice, StreamThread, open_or_default};
use crate::device::follow::{DeviceFollower, DeviceSwitch, Liveness};
use crate::device::{DeviceChoice, DeviceError, DeviceEvent, DeviceInfo, DeviceKind};
use crate::video::source::CaptureError;

/// How long `capture` waits for the device before it looks at device events again.
const POLL: Duration = Duration::from_millis(100);

pub struct Microphone {
    devices: Arc<AudioDevices>,
    follower: DeviceFollower,
    input: Option<OpenInput>,
}

struct OpenInput {
    device: OpenedDevice,
    samples: mpsc::Receiver<Vec<f32>>,
    resampler: Resampler,
    liveness: Liveness,
    _stream: StreamThread,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("device", &self.device())
            .finish()
    }
}

impl Microphone {
    /// Opens `choice` (or the default, if that microphone is not connected). `events` are the
    /// watcher's, `report` gets this stream's `Switched` events. No microphone at all is
    /// [`DeviceError::NoDevice`]: the caller joins muted.
    pub fn open(
        devices: Arc<AudioDevices>,
        choice: DeviceChoice,
        events: Option<broadcast::Receiver<DeviceEvent>>,
        report: Option<broadcast::Sender<DeviceEvent>>,
    ) -> Result<(Self, DeviceSwitch), DeviceError> {
        let follower = DeviceFollower::new(DeviceKind::Microphone, choice, events, report);
        let switch = follower.switch();
        let mut microphone = Self {
            devices,
            follower,
            input: None,
        };
        let preferred = microphone.follower.preferred().clone();
        microphone.reopen(preferred)?;
        Ok((microphone, switch))
    }

    /// The microphone in use.
    pub fn device(&self) -> Option<&DeviceInfo> {
        self.input.as_ref().map(|input| &input.device.info)
    }

    /// The device's own rate (before resampling to 48 kHz).
    pub fn device_rate(&self) -> Option<u32> {
        self.input.as_ref().map(|input| input.device.sample_rate)
    }

    fn reopen(&mut self, choice: DeviceChoice) -> Result<(), DeviceError> {
        let previous = self.input.take().map(|input| input.device.info);
        let (sender, samples) = mpsc::channel();
        let deliver = move |chunk: Vec<f32>| {
            let _ = sender.send(chunk);
        };
        let (device, stream) = open_or_default(&choice, |choice| {
            self.devices.open_input(choice, deliver.clone())
        })?;
        let resampler = device.resampler(device.sample_rate, SAMPLE_RATE)?;
        tracing::info!(
            id = %device.info.id,
            rate = device.sample_rate,
            channels = device.channels,
            "microphone open"
        );
        if let Some(previous) = previous.filter(|p| p.id != device.info.id) {
            self.follower.report_switch(&previous, &device.info);
        }
        self.input = Some(OpenInput {
            device,
            samples,
            resampler,
            liveness: Liveness::new(),
            _stream: stream,
        });
        Ok(())
    }
}

impl AudioSource for Microphone {
    /// The next 20 ms; blocks on the device. Moves to another device when the user or the
    /// system says so, and fails only when no microphone is left.
    fn capture(&mut self) -> Result<Vec<f32>, CaptureError> {
        loop {
            let stalled = self
                .input
                .as_ref()
                .is_some_and(|input| input.liveness.stalled());
            let current = self.input.as_ref().map(|input| &input.device.info);
            if let Some(choice) = self.follower.next_device(current, stalled) {
                self.reopen(choice)
                    .map_err(|error| CaptureError::Gone(error.to_string()))?;
            }
            let Some(input) = self.input.as_mut() else {
                return Err(CaptureError::Gone("no microphone".into()));
            };
            if let Some(frame) = input.resampler.pull(FRAME_SAMPLES) {
                return Ok(frame);
            }
            match input.samples.recv_timeout(POLL) {
                Ok(chunk) => {
                    input.liveness.moved();
                    input
                        .resampler
                        .push(&chunk)
                        .map_err(|e| CaptureError::Failed(e.to_string()))?;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The stream thread ended: treat the device as stalled at once.
                    input.liveness.end();
                }
            }
        }
    }
}
