//! `confab devices`: every microphone, speaker, camera, screen and window this machine could
//! use in a meeting, one JSON object per line. A missing subsystem (no sound server, no
//! display) is a line saying so, never a failure: no device is a normal state.

use confab_media::device::audio::AudioDevices;
use confab_media::device::{DeviceInfo, camera};
use confab_media::screen::{self, ShareTarget};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Device(&'a DeviceInfo),
    Share(&'a ShareTarget),
    /// A subsystem that has nothing to offer here, and why.
    Unavailable {
        subsystem: &'static str,
        reason: String,
    },
}

fn print(line: &Line<'_>) {
    match serde_json::to_string(line) {
        Ok(json) => println!("{json}"),
        Err(error) => tracing::error!(%error, "cannot describe a device"),
    }
}

fn unavailable(subsystem: &'static str, reason: impl ToString) {
    print(&Line::Unavailable {
        subsystem,
        reason: reason.to_string(),
    });
}

pub fn run() {
    match AudioDevices::new().and_then(|devices| devices.list()) {
        Ok(devices) => devices.iter().for_each(|d| print(&Line::Device(d))),
        Err(error) => unavailable("audio", error),
    }
    match camera::list() {
        Ok(cameras) if cameras.is_empty() => unavailable("camera", "no camera is connected"),
        Ok(cameras) => cameras.iter().for_each(|d| print(&Line::Device(d))),
        Err(error) => unavailable("camera", error),
    }
    match screen::backend().and_then(|backend| backend.targets()) {
        Ok(targets) => targets.iter().for_each(|t| print(&Line::Share(t))),
        Err(error) => unavailable("screen", error),
    }
}
