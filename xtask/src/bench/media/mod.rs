//! `cargo xtask bench media`: the video codecs and conversions, latency end to end, then the
//! audio path beside LiveKit's audio processing module; each writes its own section of
//! docs/BENCHMARKS.md.

mod audio;
mod latency;
mod video;

use crate::app;
use crate::error::XtaskError;
use crate::paths::Workspace;

/// One part of the media benchmark, each writing its own section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Video,
    Latency,
    Audio,
}

impl Part {
    const ALL: [Self; 3] = [Self::Video, Self::Latency, Self::Audio];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "video" => Some(Self::Video),
            "latency" => Some(Self::Latency),
            "audio" => Some(Self::Audio),
            _ => None,
        }
    }
}

/// Runs `parts` (all when empty), in the order of [`Part::ALL`].
pub fn run(workspace: &Workspace, parts: &[Part]) -> Result<(), XtaskError> {
    let release = app::build_binaries(workspace)?;
    let wanted = |part| parts.is_empty() || parts.contains(&part);
    for part in Part::ALL.into_iter().filter(|part| wanted(*part)) {
        match part {
            Part::Video => video::run(workspace)?,
            Part::Latency => latency::run(workspace, &release)?,
            Part::Audio => audio::run(workspace, &release)?,
        }
    }
    Ok(())
}
