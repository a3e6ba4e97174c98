//! Video: sources, the stamped test pattern, scaling, the VP8 and H.264 codecs and simulcast
//! encoding.

pub mod codec;
pub mod h264;
pub mod simulcast;
pub mod vp8;

pub use confab_frame::{convert, scale, source, stamp};
