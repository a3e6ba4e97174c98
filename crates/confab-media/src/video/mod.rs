//! Video: sources, the stamped test pattern, scaling, VP8 and simulcast encoding.

pub mod scale;
pub mod simulcast;
pub mod source;
pub mod stamp;
pub mod vp8;
