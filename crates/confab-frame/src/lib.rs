//! Raw video frames, before any codec: the I420 layout every stage agrees on, conversions
//! from what cameras and screens deliver, box-filter scaling, the [`source::VideoSource`]
//! trait every camera, screen and synthetic source implements, and the frame stamp (counter
//! and capture time drawn into the pixels) that tests and benchmarks read back.
//!
//! Pure Rust with no platform code, so the screen backends of every OS can build on it.

pub mod convert;
pub mod i420;
pub mod scale;
pub mod source;
pub mod stamp;
pub mod sync;

pub use i420::{I420Layout, I420LayoutError, I420Planes, VideoFrame};
