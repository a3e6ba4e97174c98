//! Audio: the Opus codec, voice processing (echo cancellation and friends), the jitter
//! buffer, the mixer, synthetic sources and measurements of what was received.

pub mod analysis;
pub mod echo;
pub mod jitter;
pub mod microphone;
pub mod mixer;
pub mod opus;
pub mod processing;
pub mod resample;
pub mod sink;
pub mod source;
pub mod speaker;
pub mod tone;
pub mod voice;
