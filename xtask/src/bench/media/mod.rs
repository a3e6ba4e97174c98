//! `cargo xtask bench media`: the video codecs and conversions, latency end to end, then the
//! audio path beside LiveKit's audio processing module; each writes its own section of
//! docs/BENCHMARKS.md.

mod audio;
mod latency;
mod video;

use crate::app;
use crate::error::XtaskError;
use crate::paths::Workspace;

pub fn run(workspace: &Workspace) -> Result<(), XtaskError> {
    let release = app::build_binaries(workspace)?;
    video::run(workspace)?;
    latency::run(workspace, &release)?;
    audio::run(workspace, &release)
}
