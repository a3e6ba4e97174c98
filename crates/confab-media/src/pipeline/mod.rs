//! The pipeline between sources and `confab-rtc`'s tracks: capture → encode → publish, and
//! subscribe → decode → frames for rendering, and → jitter buffer → mix → speaker for audio. Each direction of each
//! track runs on a thread of its own (encoding and decoding are CPU work that must not stall
//! the async engine), and stops when its [`MediaTask`] is stopped or the track goes away.

mod playout;
mod receive;
mod replay;
mod send;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub use playout::AudioPlayout;
use receive::next_frame;
pub use receive::{
    AudioReceiver, DecodedAudio, DecodedVideo, VideoReceiver, receive_audio, receive_video,
};
pub use replay::{REPLAY_SECONDS, replay_test_pattern};
pub use send::{send_audio, send_video};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("video codec: {0}")]
    Video(#[from] crate::video::codec::CodecError),
    #[error("audio codec: {0}")]
    Audio(#[from] crate::audio::opus::OpusError),
    #[error("{0}")]
    Processing(#[from] crate::audio::processing::ProcessingError),
    #[error("capture: {0}")]
    Capture(#[from] crate::video::source::CaptureError),
    #[error("the track is not {0}")]
    WrongTrack(&'static str),
    #[error("frame size: {0}")]
    Layout(#[from] crate::i420::I420LayoutError),
    #[error("cannot start a media thread: {0}")]
    Thread(std::io::Error),
    #[error("the media thread panicked (a bug in confab-media)")]
    Panicked,
}

/// A running direction of one track. Dropping it stops the thread (without waiting).
#[derive(Debug)]
pub struct MediaTask {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), PipelineError>>>,
}

impl MediaTask {
    fn spawn(
        name: &str,
        work: impl FnOnce(Arc<AtomicBool>) -> Result<(), PipelineError> + Send + 'static,
    ) -> Result<Self, PipelineError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = work(flag);
                if let Err(error) = &result {
                    tracing::warn!(%error, "media thread stopped");
                }
                result
            })
            .map_err(PipelineError::Thread)?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Whether the thread has ended on its own (its source failed or ran out) or was stopped.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks the thread to stop and waits until it has (at most one frame's time for senders;
    /// receivers stop at their track's next frame or when the track ends).
    pub fn stop(mut self) -> Result<(), PipelineError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(PipelineError::Panicked),
            None => Ok(()),
        }
    }
}

impl Drop for MediaTask {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn stopped(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}
