//! Everything between the user's devices and the encoded frames `confab-rtc` sends and receives.
//!
//! It owns capture (microphone via cpal, camera via nokhwa, screens per OS) behind traits that
//! synthetic sources also implement, audio processing (echo cancellation, noise suppression,
//! AGC), resampling, Opus/VP8/H.264 encoding and decoding, the jitter buffer, the mixer and
//! playout, and scaling of decoded video to the size the UI shows.
//!
//! Raw frames (layouts, conversions, scaling, the capture trait, the stamped test pattern)
//! come from `confab-frame` and screen capture from `confab-screen`; both are re-exported
//! here under their old paths (`confab_media::i420`, `confab_media::video::source`,
//! `confab_media::screen`). The [`pipeline`] joins sources and codecs to `confab-rtc`'s
//! tracks.

pub mod audio;
pub mod audio_format;
pub mod device;
pub mod pipeline;
pub mod video;

pub use audio_format::AudioFormat;
/// Raw frames live in their own pure-Rust crate; these paths keep `confab_media::i420` etc.
pub use confab_frame::{I420Layout, I420LayoutError, I420Planes, VideoFrame, i420, sync};
/// Screen sharing per OS, in its own crate so every backend compiles from one machine.
pub use confab_screen as screen;
