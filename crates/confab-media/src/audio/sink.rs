//! Where the mix goes: a sink pulls it, 10 ms at a time, whenever its device needs sound.
//! Mixing on demand (instead of pushing frames into a queue ahead of the device) keeps the
//! playout's share of the mouth-to-ear delay down to the device's own buffer.

use std::sync::Arc;
use std::time::Duration;

use crate::video::source::CaptureError;

/// Gives the next stretch of 48 kHz mono to play (10 ms from the mixer). A sink calls it on its device's thread when
/// the device needs more, so it must not block for long.
pub type AudioFeed = Arc<dyn Fn() -> Vec<f32> + Send + Sync>;

/// How often a sink's owner calls [`AudioSink::maintain`].
pub const MAINTAIN_EVERY: Duration = Duration::from_millis(100);

/// A consumer of 48 kHz mono audio that takes it at its own clock's pace.
pub trait AudioSink: Send {
    /// Plays what `feed` gives from now on (silence until then).
    fn start(&mut self, feed: AudioFeed);

    /// Keeps the sink on a working device: follows the user's choice and devices that went
    /// away or came back. Called every [`MAINTAIN_EVERY`]; fails when nothing can play.
    fn maintain(&mut self) -> Result<(), CaptureError>;
}
