//! Watches the microphones, speakers and cameras and reports what was plugged in, unplugged,
//! or became the default. Neither cpal nor nokhwa has change notifications on every system,
//! so the lists are polled (twice a second by default) and compared.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::device::audio::AudioDevices;
use crate::device::{DeviceError, DeviceEvent, DeviceInfo, camera};

pub const DEFAULT_POLL: Duration = Duration::from_millis(500);
/// Events a slow subscriber may fall behind by before it misses some.
const EVENT_BACKLOG: usize = 64;

#[derive(Debug)]
pub struct DeviceWatcher {
    events: broadcast::Sender<DeviceEvent>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    pub fn start(devices: Arc<AudioDevices>, every: Duration) -> Result<Self, DeviceError> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let sender = events.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let mut known = every_device(&devices).unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name("confab-device-watch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    let now = match every_device(&devices) {
                        Ok(now) => now,
                        Err(error) => {
                            tracing::debug!(%error, "cannot list audio devices");
                            continue;
                        }
                    };
                    for event in changes(&known, &now) {
                        tracing::info!(?event, "devices changed");
                        let _ = sender.send(event);
                    }
                    known = now;
                }
            })
            .map_err(DeviceError::Thread)?;
        Ok(Self {
            events,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    /// Where streams report what they did about a change (their `Switched` events).
    pub fn reporter(&self) -> broadcast::Sender<DeviceEvent> {
        self.events.clone()
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Microphones and speakers, then cameras.
fn every_device(devices: &AudioDevices) -> Result<Vec<DeviceInfo>, DeviceError> {
    let mut listed = devices.list()?;
    listed.extend(camera::list()?);
    Ok(listed)
}

/// What differs between two lists: removals first (a stream on a removed device moves
/// before a new one is offered), then additions, then new defaults.
pub fn changes(before: &[DeviceInfo], after: &[DeviceInfo]) -> Vec<DeviceEvent> {
    let same = |a: &DeviceInfo, b: &DeviceInfo| a.kind == b.kind && a.id == b.id;
    let mut events: Vec<DeviceEvent> = before
        .iter()
        .filter(|old| !after.iter().any(|new| same(old, new)))
        .map(|old| DeviceEvent::Removed(old.clone()))
        .collect();
    events.extend(
        after
            .iter()
            .filter(|new| !before.iter().any(|old| same(old, new)))
            .map(|new| DeviceEvent::Added(new.clone())),
    );
    events.extend(
        after
            .iter()
            .filter(|new| new.is_default)
            .filter(|new| !before.iter().any(|old| old.is_default && same(old, new)))
            .map(|new| DeviceEvent::DefaultChanged {
                kind: new.kind,
                id: new.id.clone(),
            }),
    );
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceKind;

    fn mic(id: &str, is_default: bool) -> DeviceInfo {
        DeviceInfo {
            id: id.into(),
            name: id.to_uppercase(),
            kind: DeviceKind::Microphone,
            is_default,
        }
    }

    #[test]
    fn an_unplugged_default_is_removed_and_the_new_default_announced() {
        let before = [mic("usb", true), mic("builtin", false)];
        let after = [mic("builtin", true)];
        assert_eq!(
            changes(&before, &after),
            [
                DeviceEvent::Removed(mic("usb", true)),
                DeviceEvent::DefaultChanged {
                    kind: DeviceKind::Microphone,
                    id: "builtin".into()
                }
            ]
        );
    }

    #[test]
    fn a_plugged_in_device_is_added_and_nothing_else_changes() {
        let before = [mic("builtin", true)];
        let after = [mic("builtin", true), mic("usb", false)];
        assert_eq!(
            changes(&before, &after),
            [DeviceEvent::Added(mic("usb", false))]
        );
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn the_same_id_as_another_kind_is_another_device() {
        let speaker = DeviceInfo {
            kind: DeviceKind::Speaker,
            ..mic("hdmi", false)
        };
        assert_eq!(
            changes(&[mic("hdmi", false)], std::slice::from_ref(&speaker)),
            [
                DeviceEvent::Removed(mic("hdmi", false)),
                DeviceEvent::Added(speaker)
            ]
        );
    }
}
