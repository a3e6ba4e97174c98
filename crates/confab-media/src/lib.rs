//! Everything between the user's devices and the encoded frames `confab-rtc` sends and receives.
//!
//! It owns capture (microphone via cpal, camera via nokhwa, screens per OS) behind traits that
//! synthetic sources also implement, audio processing (echo cancellation, noise suppression,
//! AGC), resampling, Opus/VP8/H.264 encoding and decoding, the jitter buffer, the mixer and
//! playout, and scaling of decoded video to the size the UI shows.
//!
//! Today it holds the frame layouts every stage agrees on, the synthetic sources (a stamped
//! test pattern and a tone), VP8 (libvpx) and Opus (libopus) with simulcast encoding, and the
//! [`pipeline`] that joins them to `confab-rtc`'s tracks. Device capture, audio processing and
//! playout arrive with the media pipeline's own issue.

pub mod audio;
pub mod audio_format;
pub mod device;
pub mod i420;
pub mod pipeline;
pub mod screen;
pub mod sync;
pub mod video;

pub use audio_format::AudioFormat;
pub use i420::{I420Layout, I420LayoutError, I420Planes, VideoFrame};
