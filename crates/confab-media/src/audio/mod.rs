//! Audio: the Opus codec, synthetic sources and measurements of what was received.

pub mod analysis;
pub mod opus;
pub mod source;
pub mod tone;
