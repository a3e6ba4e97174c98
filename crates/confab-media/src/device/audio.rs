//! Microphones and speakers through cpal. On Linux the PulseAudio host is used when a
//! PulseAudio (or PipeWire's pulse) server runs: its sinks and sources have stable names and
//! it lists every one the user sees in their sound settings; otherwise cpal's default host.
//!
//! A cpal stream lives on a thread of its own ([`StreamThread`]): some hosts' streams must
//! stay on the thread that made them, and the callbacks only move samples into queues.

use std::sync::mpsc;
use std::thread::JoinHandle;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use crate::audio::resample::Resampler;
use crate::device::{DeviceChoice, DeviceError, DeviceInfo, DeviceKind};

/// The audio side of the system's devices.
pub struct AudioDevices {
    host: cpal::Host,
}

impl std::fmt::Debug for AudioDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDevices")
            .field("host", &self.host.id())
            .finish()
    }
}

/// A device opened for a stream: its description and the format it runs at.
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    pub info: DeviceInfo,
    pub sample_rate: u32,
    pub channels: u16,
}

impl OpenedDevice {
    /// A resampler from `from` Hz to `to` Hz for this device's stream; one that cannot be
    /// built fails the device's opening.
    pub fn resampler(&self, from: u32, to: u32) -> Result<Resampler, DeviceError> {
        Resampler::new(from, to).map_err(|error| DeviceError::Open {
            kind: self.info.kind,
            name: self.info.name.clone(),
            reason: error.to_string(),
        })
    }
}

impl AudioDevices {
    pub fn new() -> Result<Self, DeviceError> {
        Ok(Self { host: pick_host()? })
    }

    pub fn host_name(&self) -> &'static str {
        self.host.id().name()
    }

    /// Every microphone and speaker, defaults marked. Monitors of speakers (PulseAudio's
    /// "Monitor of …" sources) are not microphones and are left out.
    pub fn list(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        let devices = self
            .host
            .devices()
            .map_err(|e| DeviceError::Host(e.to_string()))?;
        let default_in = self.host.default_input_device().and_then(|d| device_id(&d));
        let default_out = self
            .host
            .default_output_device()
            .and_then(|d| device_id(&d));
        let mut listed = Vec::new();
        for device in devices {
            let Some(id) = device_id(&device) else {
                continue;
            };
            let name = device
                .description()
                .map(|d| d.name().to_owned())
                .unwrap_or_else(|_| id.clone());
            if device.supports_input() && !is_monitor(&id) {
                listed.push(DeviceInfo {
                    is_default: default_in.as_deref() == Some(id.as_str()),
                    id: id.clone(),
                    name: name.clone(),
                    kind: DeviceKind::Microphone,
                });
            }
            if device.supports_output() {
                listed.push(DeviceInfo {
                    is_default: default_out.as_deref() == Some(id.as_str()),
                    id,
                    name,
                    kind: DeviceKind::Speaker,
                });
            }
        }
        Ok(listed)
    }

    /// The device `choice` names, or the system default, through a connection of its own:
    /// cpal's PulseAudio host refuses a second playback stream on one connection ("Invalid
    /// argument"), so every stream gets its own host.
    fn find(
        &self,
        kind: DeviceKind,
        choice: &DeviceChoice,
    ) -> Result<(cpal::Host, cpal::Device, DeviceInfo), DeviceError> {
        let host = pick_host()?;
        let device = match choice {
            DeviceChoice::SystemDefault => match kind {
                DeviceKind::Microphone => host.default_input_device(),
                _ => host.default_output_device(),
            }
            .ok_or(DeviceError::NoDevice(kind))?,
            DeviceChoice::Id(wanted) => host
                .devices()
                .map_err(|e| DeviceError::Host(e.to_string()))?
                .find(|device| device_id(device).as_deref() == Some(wanted.as_str()))
                .ok_or_else(|| DeviceError::NotFound {
                    kind,
                    id: wanted.clone(),
                })?,
        };
        let id = device_id(&device).ok_or(DeviceError::NoDevice(kind))?;
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| id.clone());
        let info = DeviceInfo {
            is_default: matches!(choice, DeviceChoice::SystemDefault),
            id,
            name,
            kind,
        };
        Ok((host, device, info))
    }

    /// Opens a microphone at its own rate and channel count; `deliver` gets its samples as
    /// mono f32 at that rate, from the device's callback.
    pub fn open_input(
        &self,
        choice: &DeviceChoice,
        deliver: impl FnMut(Vec<f32>) + Send + 'static,
    ) -> Result<(OpenedDevice, StreamThread), DeviceError> {
        let (host, device, info) = self.find(DeviceKind::Microphone, choice)?;
        let open_error = open_error(&info);
        let supported = device.default_input_config().map_err(&open_error)?;
        let opened = OpenedDevice {
            info: info.clone(),
            sample_rate: supported.sample_rate(),
            channels: supported.channels(),
        };
        let format = supported.sample_format();
        let config = with_period(&supported, INPUT_PERIOD_MS);
        let stream = StreamThread::spawn(&info, move || {
            build_input(&device, config, format, deliver).and_then(|stream| {
                stream.play().map_err(|e| e.to_string())?;
                // The connection lives as long as its stream.
                Ok((stream, device, host))
            })
        })?;
        Ok((opened, stream))
    }

    /// Opens a speaker at its own rate and channel count; `make_fill` gets the opened device
    /// and returns what fills its buffer: mono f32 samples at the device's rate (copied to
    /// every channel), asked for on the stream's thread whenever the device needs them.
    pub fn open_output<F>(
        &self,
        choice: &DeviceChoice,
        make_fill: impl FnOnce(&OpenedDevice) -> Result<F, DeviceError>,
    ) -> Result<(OpenedDevice, StreamThread), DeviceError>
    where
        F: FnMut(&mut [f32]) + Send + 'static,
    {
        let (host, device, info) = self.find(DeviceKind::Speaker, choice)?;
        let open_error = open_error(&info);
        let supported = device.default_output_config().map_err(&open_error)?;
        let opened = OpenedDevice {
            info: info.clone(),
            sample_rate: supported.sample_rate(),
            channels: supported.channels(),
        };
        let fill = make_fill(&opened)?;
        let format = supported.sample_format();
        let config = with_period(&supported, OUTPUT_PERIOD_MS);
        let stream = StreamThread::spawn(&info, move || {
            build_output(&device, config, format, fill).and_then(|stream| {
                stream.play().map_err(|e| e.to_string())?;
                Ok((stream, device, host))
            })
        })?;
        Ok((opened, stream))
    }
}

/// Opens `choice` with `open`; when that device is missing or will not open, opens the
/// system default instead (the microphone's and the speaker's shared rule).
pub(crate) fn open_or_default<T>(
    choice: &DeviceChoice,
    mut open: impl FnMut(&DeviceChoice) -> Result<T, DeviceError>,
) -> Result<T, DeviceError> {
    match open(choice) {
        Err(DeviceError::NotFound { .. } | DeviceError::Open { .. })
            if *choice != DeviceChoice::SystemDefault =>
        {
            tracing::info!(?choice, "device not available; using the default");
            open(&DeviceChoice::SystemDefault)
        }
        other => other,
    }
}

/// How much audio each microphone callback brings: servers otherwise pick their own, and
/// PulseAudio's default for a record stream is about two seconds. One Opus frame: cpal caps
/// a PulseAudio record stream's server-side buffer at one period, so with 10 ms the server
/// dropped samples whenever the client's thread was off the CPU for longer (heard as clicks,
/// several a second in the device test with four streams on two cores); 20 ms never did.
const INPUT_PERIOD_MS: u32 = 20;
/// Each speaker callback's share; PulseAudio double-buffers it (20 ms in all). 20 ms periods
/// (40 ms buffered) cost 21 ms of mouth-to-ear (`cargo xtask bench media`: 83.0 → 61.8 ms);
/// a playback buffer that runs dry plays silence for a moment rather than dropping what was
/// captured, and the device tests' tones stay clean with four streams on two cores.
const OUTPUT_PERIOD_MS: u32 = 10;

/// The device's own format with a callback period of `period_ms`, within what it supports
/// (its own default where it does not say).
fn with_period(supported: &cpal::SupportedStreamConfig, period_ms: u32) -> StreamConfig {
    let mut config = supported.config();
    if let cpal::SupportedBufferSize::Range { min, max } = *supported.buffer_size() {
        let frames = supported.sample_rate() * period_ms / 1000;
        config.buffer_size = cpal::BufferSize::Fixed(frames.clamp(min, max.max(min)));
    }
    config
}

fn open_error(info: &DeviceInfo) -> impl Fn(cpal::Error) -> DeviceError + '_ {
    move |error| DeviceError::Open {
        kind: info.kind,
        name: info.name.clone(),
        reason: error.to_string(),
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd"))]
fn pick_host() -> Result<cpal::Host, DeviceError> {
    if cpal::available_hosts().contains(&cpal::HostId::PulseAudio) {
        super::pulse_cookie::ensure_for_this_user();
        match cpal::host_from_id(cpal::HostId::PulseAudio) {
            Ok(host) => return Ok(host),
            Err(error) => tracing::info!(%error, "PulseAudio is not reachable; using ALSA"),
        }
    }
    Ok(cpal::default_host())
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "netbsd")))]
fn pick_host() -> Result<cpal::Host, DeviceError> {
    Ok(cpal::default_host())
}

fn device_id(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_owned())
}

fn is_monitor(id: &str) -> bool {
    id.ends_with(".monitor")
}

/// Owns one running cpal stream on its own thread; dropping it stops the stream.
pub struct StreamThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StreamThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamThread")
    }
}

impl StreamThread {
    /// Runs `build` on a new thread and keeps what it built alive there until dropped;
    /// returns once the stream plays (or failed to).
    fn spawn<S: 'static>(
        info: &DeviceInfo,
        build: impl FnOnce() -> Result<S, String> + Send + 'static,
    ) -> Result<Self, DeviceError> {
        let (started_tx, started_rx) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("confab-{:?}-stream", info.kind).to_lowercase())
            .spawn(move || match build() {
                Ok(stream) => {
                    let _ = started_tx.send(Ok(()));
                    // Blocks until the owner drops its end.
                    let _ = stopped.recv();
                    drop(stream);
                }
                Err(reason) => {
                    let _ = started_tx.send(Err(reason));
                }
            })
            .map_err(DeviceError::Thread)?;
        let outcome = started_rx
            .recv()
            .unwrap_or_else(|_| Err("the stream thread ended before the stream started".into()));
        let keeper = Self {
            stop: Some(stop),
            thread: Some(thread),
        };
        outcome.map_err(|reason| DeviceError::Open {
            kind: info.kind,
            name: info.name.clone(),
            reason,
        })?;
        Ok(keeper)
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn build_input(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    deliver: impl FnMut(Vec<f32>) + Send + 'static,
) -> Result<cpal::Stream, String> {
    match format {
        SampleFormat::F32 => input_of::<f32>(device, config, deliver),
        SampleFormat::I16 => input_of::<i16>(device, config, deliver),
        SampleFormat::I32 => input_of::<i32>(device, config, deliver),
        SampleFormat::U16 => input_of::<u16>(device, config, deliver),
        SampleFormat::U8 => input_of::<u8>(device, config, deliver),
        SampleFormat::F64 => input_of::<f64>(device, config, deliver),
        other => Err(format!("unsupported sample format {other}")),
    }
}

fn input_of<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut deliver: impl FnMut(Vec<f32>) + Send + 'static,
) -> Result<cpal::Stream, String>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    device
        .build_input_stream::<T, _, _>(
            config,
            move |data: &[T], _| {
                // Down-mix to mono: the average of the channels.
                let mono = data
                    .chunks(channels)
                    .map(|frame| {
                        frame.iter().map(|&s| s.to_sample::<f32>()).sum::<f32>() / channels as f32
                    })
                    .collect();
                deliver(mono);
            },
            |error| tracing::warn!(%error, "microphone stream error"),
            None,
        )
        .map_err(|e| e.to_string())
}

fn build_output(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    fill: impl FnMut(&mut [f32]) + Send + 'static,
) -> Result<cpal::Stream, String> {
    match format {
        SampleFormat::F32 => output_of::<f32>(device, config, fill),
        SampleFormat::I16 => output_of::<i16>(device, config, fill),
        SampleFormat::I32 => output_of::<i32>(device, config, fill),
        SampleFormat::U16 => output_of::<u16>(device, config, fill),
        SampleFormat::U8 => output_of::<u8>(device, config, fill),
        SampleFormat::F64 => output_of::<f64>(device, config, fill),
        other => Err(format!("unsupported sample format {other}")),
    }
}

fn output_of<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut fill: impl FnMut(&mut [f32]) + Send + 'static,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    let mut mono = Vec::new();
    device
        .build_output_stream::<T, _, _>(
            config,
            move |data: &mut [T], _| {
                mono.resize(data.len() / channels, 0.0);
                fill(&mut mono);
                for (frame, &sample) in data.chunks_mut(channels).zip(&mono) {
                    frame.fill(T::from_sample(sample));
                }
            },
            |error| tracing::warn!(%error, "speaker stream error"),
            None,
        )
        .map_err(|e| e.to_string())
}
