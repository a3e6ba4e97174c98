//! Video: sources, the stamped test pattern, scaling, the VP8 and H.264 codecs and simulcast
//! encoding.

pub mod codec;
pub mod convert;
pub mod h264;
pub mod scale;
pub mod simulcast;
pub mod source;
pub mod stamp;
pub mod vp8;
