//! The real speaker: 48 kHz mono from the mixer, resampled to the device's rate and copied
//! to its channels by a cpal output stream. `play` blocks while the device's queue is full,
//! so the sound card's clock paces the playout. Follows the devices like the microphone.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::audio::resample::Resampler;
use crate::audio::sink::AudioSink;
use crate::audio::tone::SAMPLE_RATE;
use crate::device::audio::{AudioDevices, OpenedDevice, StreamThread, open_or_default};
use crate::device::follow::{DeviceFollower, DeviceSwitch, Liveness};
use crate::device::{DeviceChoice, DeviceError, DeviceEvent, DeviceInfo, DeviceKind};
use crate::video::source::CaptureError;

/// Audio queued for the device beyond what it is playing: the speaker's share of the
/// mouth-to-ear latency.
const QUEUE_TARGET: Duration = Duration::from_millis(40);
const POLL: Duration = Duration::from_millis(100);

pub struct Speaker {
    devices: Arc<AudioDevices>,
    follower: DeviceFollower,
    output: Option<OpenOutput>,
}

struct OpenOutput {
    device: OpenedDevice,
    resampler: Resampler,
    queue: Arc<Queue>,
    _stream: StreamThread,
}

/// Mono samples at the device's rate, and whether the device still takes them.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    drained: Condvar,
}

#[derive(Debug)]
struct QueueState {
    samples: VecDeque<f32>,
    liveness: Liveness,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("device", &self.device())
            .finish()
    }
}

impl Speaker {
    /// Opens `choice` (or the default, if that speaker is not connected).
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
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                samples: VecDeque::new(),
                liveness: Liveness::new(),
            }),
            drained: Condvar::new(),
        });
        let feeding = queue.clone();
        let fill = move |out: &mut [f32]| {
            let mut state = feeding.lock();
            for sample in out.iter_mut() {
                // An empty queue plays silence (an underrun), never old audio.
                *sample = state.samples.pop_front().unwrap_or(0.0);
            }
            state.liveness.moved();
            drop(state);
            feeding.drained.notify_all();
        };
        let (device, stream) = open_or_default(&choice, |choice| {
            self.devices.open_output(choice, fill.clone())
        })?;
        let resampler =
            Resampler::new(SAMPLE_RATE, device.sample_rate).map_err(|e| DeviceError::Open {
                kind: DeviceKind::Speaker,
                name: device.info.name.clone(),
                reason: e.to_string(),
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
            resampler,
            queue,
            _stream: stream,
        });
        Ok(())
    }
}

impl AudioSink for Speaker {
    fn play(&mut self, frame: &[f32]) -> Result<(), CaptureError> {
        let stalled = self
            .output
            .as_ref()
            .is_some_and(|output| output.queue.lock().liveness.stalled());
        let current = self.output.as_ref().map(|output| &output.device.info);
        if let Some(choice) = self.follower.next_device(current, stalled) {
            self.reopen(choice)
                .map_err(|error| CaptureError::Gone(error.to_string()))?;
        }
        let Some(output) = self.output.as_mut() else {
            return Err(CaptureError::Gone("no speaker".into()));
        };
        output
            .resampler
            .push(frame)
            .map_err(|e| CaptureError::Failed(e.to_string()))?;
        let ready = output.resampler.ready();
        let samples = output.resampler.pull(ready).unwrap_or_default();
        let target =
            (u128::from(output.device.sample_rate) * QUEUE_TARGET.as_millis() / 1000) as usize;
        let mut state = output.queue.lock();
        state.samples.extend(samples);
        // Wait for the device to make room (its clock paces us); give up after a poll so a
        // dead device is noticed on the next frame.
        let waited = Instant::now();
        while state.samples.len() > target && waited.elapsed() < POLL {
            state = output
                .queue
                .drained
                .wait_timeout(state, POLL)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        Ok(())
    }
}
