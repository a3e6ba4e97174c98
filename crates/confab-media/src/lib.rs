//! Everything between the user's devices and the encoded frames `confab-rtc` sends and receives.
//!
//! It owns capture (microphone via cpal, camera via nokhwa, screens per OS) behind traits that
//! synthetic sources also implement, audio processing (echo cancellation, noise suppression,
//! AGC), resampling, Opus/VP8/H.264 encoding and decoding, the jitter buffer, the mixer and
//! playout, and scaling of decoded video to the size the UI shows.
//!
//! So far it holds the raw frame layouts every stage agrees on; the pipeline arrives with its
//! own issue.

pub mod audio_format;
pub mod i420;

pub use audio_format::AudioFormat;
pub use i420::{I420Layout, I420LayoutError, I420Planes};
