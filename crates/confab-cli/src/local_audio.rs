//! `confab join --microphone` / `--speaker`: the real audio devices in a meeting. The
//! microphone goes through voice processing (echo cancellation with what the speaker plays
//! as the far end, noise suppression, gain control) into Opus; every subscribed audio track
//! is mixed and played on the speaker.

use std::sync::Arc;

use confab_media::audio::microphone::Microphone;
use confab_media::audio::processing::{AudioProcessor, ProcessingError, ProcessingSettings};
use confab_media::audio::source::ProcessedSource;
use confab_media::audio::speaker::Speaker;
use confab_media::audio::voice::VoiceStats;
use confab_media::device::audio::AudioDevices;
use confab_media::device::{DeviceChoice, DeviceError};
use confab_media::pipeline::{self, AudioPlayout, MediaTask, PipelineError};
use confab_rtc::room::{Room, RoomError, TrackOptions};

#[derive(Debug, thiserror::Error)]
pub enum LocalAudioError {
    #[error("audio device: {0}")]
    Device(#[from] DeviceError),
    #[error("voice processing: {0}")]
    Processing(#[from] ProcessingError),
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("{0}")]
    Room(#[from] RoomError),
}

/// `default` is the system's default device; anything else a device id from `confab devices`.
pub fn choice(id: &str) -> DeviceChoice {
    if id == "default" {
        DeviceChoice::SystemDefault
    } else {
        DeviceChoice::Id(id.to_owned())
    }
}

/// One line on what a played track's jitter buffer did, for scripts and benchmarks:
/// `audio-played <identity> <sid> played=N concealed=N rebuilt=N dropped=N late=N
/// target-ms=N wait-ms=N` (the wait is the last packet's time in the buffer).
pub fn played_summary(identity: &str, sid: &str, stats: &VoiceStats) -> String {
    let jitter = &stats.jitter;
    let wait = stats
        .last_wait
        .map_or_else(|| "none".to_owned(), |wait| wait.as_millis().to_string());
    format!(
        "audio-played {identity} {sid} played={} concealed={} rebuilt={} dropped={} late={} \
         target-ms={} wait-ms={wait}",
        jitter.played,
        jitter.concealed,
        jitter.rebuilt_from_fec,
        jitter.dropped,
        jitter.late,
        stats.target_delay.as_millis(),
    )
}

/// The devices this participant uses, and the echo canceller both share.
#[derive(Debug)]
pub struct LocalAudio {
    devices: Arc<AudioDevices>,
    processor: Arc<AudioProcessor>,
    playout: Option<AudioPlayout>,
}

impl LocalAudio {
    pub fn new() -> Result<Self, LocalAudioError> {
        Ok(Self {
            devices: Arc::new(AudioDevices::new()?),
            processor: Arc::new(AudioProcessor::new(ProcessingSettings::default())?),
            playout: None,
        })
    }

    /// Publishes the microphone `choice` (processed) as this participant's microphone track.
    pub async fn publish_microphone(
        &self,
        room: &Room,
        choice: DeviceChoice,
    ) -> Result<MediaTask, LocalAudioError> {
        let (microphone, _switch) = Microphone::open(self.devices.clone(), choice, None, None)?;
        let device = microphone
            .device()
            .map(|d| d.id.clone())
            .unwrap_or_default();
        let track = room.publish_track(TrackOptions::microphone()).await?;
        println!("published microphone={} device={device}", track.sid());
        let source = ProcessedSource::new(microphone, self.processor.clone());
        Ok(pipeline::send_audio(track, Box::new(source), true)?)
    }

    /// Starts playing everything added with [`LocalAudio::play`] on the speaker `choice`.
    pub fn start_speaker(&mut self, choice: DeviceChoice) -> Result<(), LocalAudioError> {
        let (speaker, _switch) = Speaker::open(self.devices.clone(), choice, None, None)?;
        let device = speaker.device().map(|d| d.id.clone()).unwrap_or_default();
        println!("playing device={device}");
        self.playout = Some(AudioPlayout::start(
            Box::new(speaker),
            Some(self.processor.clone()),
        )?);
        Ok(())
    }

    /// The running playout, when a speaker was started: subscribed audio tracks go there.
    pub fn playout(&self) -> Option<&AudioPlayout> {
        self.playout.as_ref()
    }

    pub fn stop(self) -> Result<(), LocalAudioError> {
        if let Some(playout) = self.playout {
            playout.stop()?;
        }
        Ok(())
    }
}
