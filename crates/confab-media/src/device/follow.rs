//! What a microphone or speaker stream does when devices change: switch when the user picks
//! another, fall back to the system default when its device goes away or stops delivering,
//! and return to the user's choice when it comes back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::device::{DeviceChoice, DeviceEvent, DeviceInfo, DeviceKind};
use crate::sync::lock;

/// A handle to move a running stream to another device (the UI's device picker).
#[derive(Debug, Clone, Default)]
pub struct DeviceSwitch(Arc<Mutex<Option<DeviceChoice>>>);

impl DeviceSwitch {
    pub fn switch_to(&self, choice: DeviceChoice) {
        *lock(&self.0) = Some(choice);
    }

    fn take(&self) -> Option<DeviceChoice> {
        lock(&self.0).take()
    }
}

#[derive(Debug)]
pub(crate) struct DeviceFollower {
    kind: DeviceKind,
    /// What the user chose; the stream may be on the default meanwhile.
    preferred: DeviceChoice,
    switch: DeviceSwitch,
    events: Option<broadcast::Receiver<DeviceEvent>>,
    report: Option<broadcast::Sender<DeviceEvent>>,
}

impl DeviceFollower {
    pub(crate) fn new(
        kind: DeviceKind,
        preferred: DeviceChoice,
        events: Option<broadcast::Receiver<DeviceEvent>>,
        report: Option<broadcast::Sender<DeviceEvent>>,
    ) -> Self {
        Self {
            kind,
            preferred,
            switch: DeviceSwitch::default(),
            events,
            report,
        }
    }

    pub(crate) fn switch(&self) -> DeviceSwitch {
        self.switch.clone()
    }

    pub(crate) fn preferred(&self) -> &DeviceChoice {
        &self.preferred
    }

    /// Which device to (re)open before the next frame, if any: `current` is the open one
    /// (`None` when nothing is open) and `stalled` says it stopped delivering.
    pub(crate) fn next_device(
        &mut self,
        current: Option<&DeviceInfo>,
        stalled: bool,
    ) -> Option<DeviceChoice> {
        if let Some(choice) = self.switch.take() {
            self.preferred = choice.clone();
            return Some(choice);
        }
        let mut lost = stalled;
        let mut returned = false;
        while let Some(event) = self.events.as_mut().and_then(|e| e.try_recv().ok()) {
            match event {
                DeviceEvent::Removed(gone) if gone.kind == self.kind => {
                    lost |= current.is_some_and(|c| c.id == gone.id);
                }
                DeviceEvent::Added(back) if back.kind == self.kind => {
                    let is_preferred = self.preferred == DeviceChoice::Id(back.id.clone());
                    returned |= is_preferred && current.is_none_or(|c| c.id != back.id);
                }
                _ => {}
            }
        }
        match current {
            None => Some(self.preferred.clone()),
            Some(_) if returned => Some(self.preferred.clone()),
            Some(_) if lost => Some(DeviceChoice::SystemDefault),
            Some(_) => None,
        }
    }

    pub(crate) fn report_switch(&self, from: &DeviceInfo, to: &DeviceInfo) {
        tracing::info!(kind = ?self.kind, from = %from.id, to = %to.id, "device switched");
        if let Some(report) = &self.report {
            let _ = report.send(DeviceEvent::Switched {
                kind: self.kind,
                from: from.id.clone(),
                to: to.clone(),
            });
        }
    }
}

/// A stream that moves no audio for this long has lost its device.
const STALL: Duration = Duration::from_secs(1);
/// How long a newly opened stream is given before the stall rule applies: sound servers
/// start streams on an idle device unevenly (PulseAudio's null sink took one block, then
/// nothing for a second, and its monitor 1.2–1.7 s for the first samples, here) and
/// Bluetooth headsets switch profiles before they deliver.
const STARTUP: Duration = Duration::from_secs(4);

/// Whether a device stream is alive: when it opened and when it last moved audio.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Liveness {
    opened: Instant,
    last_moved: Option<Instant>,
    dead: bool,
}

impl Liveness {
    pub(crate) fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_moved: None,
            dead: false,
        }
    }

    /// The device delivered or took audio just now.
    pub(crate) fn moved(&mut self) {
        self.last_moved = Some(Instant::now());
    }

    /// The stream ended (its thread is gone): stalled from now on.
    pub(crate) fn end(&mut self) {
        self.dead = true;
    }

    pub(crate) fn stalled(&self) -> bool {
        let quiet_since = self.last_moved.unwrap_or(self.opened);
        self.dead || (self.opened.elapsed() > STARTUP && quiet_since.elapsed() > STALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(id: &str) -> DeviceInfo {
        DeviceInfo {
            id: id.into(),
            name: id.into(),
            kind: DeviceKind::Microphone,
            is_default: false,
        }
    }

    #[test]
    fn unplugged_falls_back_to_the_default_and_returns_when_replugged() {
        let (events, receiver) = broadcast::channel(8);
        let mut follower = DeviceFollower::new(
            DeviceKind::Microphone,
            DeviceChoice::Id("usb".into()),
            Some(receiver),
            None,
        );
        assert_eq!(
            follower.next_device(None, false),
            Some(DeviceChoice::Id("usb".into()))
        );
        assert_eq!(follower.next_device(Some(&mic("usb")), false), None);
        // Another microphone going away changes nothing.
        events
            .send(DeviceEvent::Removed(mic("webcam")))
            .expect("send");
        assert_eq!(follower.next_device(Some(&mic("usb")), false), None);
        events.send(DeviceEvent::Removed(mic("usb"))).expect("send");
        assert_eq!(
            follower.next_device(Some(&mic("usb")), false),
            Some(DeviceChoice::SystemDefault)
        );
        events.send(DeviceEvent::Added(mic("usb"))).expect("send");
        assert_eq!(
            follower.next_device(Some(&mic("builtin")), false),
            Some(DeviceChoice::Id("usb".into()))
        );
    }

    #[test]
    fn a_stall_falls_back_and_a_switch_request_wins() {
        let mut follower =
            DeviceFollower::new(DeviceKind::Speaker, DeviceChoice::SystemDefault, None, None);
        let speaker = DeviceInfo {
            kind: DeviceKind::Speaker,
            ..mic("hdmi")
        };
        assert_eq!(
            follower.next_device(Some(&speaker), true),
            Some(DeviceChoice::SystemDefault)
        );
        follower
            .switch()
            .switch_to(DeviceChoice::Id("headset".into()));
        assert_eq!(
            follower.next_device(Some(&speaker), true),
            Some(DeviceChoice::Id("headset".into()))
        );
        assert_eq!(follower.preferred(), &DeviceChoice::Id("headset".into()));
    }

    #[test]
    fn a_new_stream_gets_a_startup_grace_then_the_stall_rule() {
        let mut liveness = Liveness::new();
        assert!(!liveness.stalled(), "a stream that just opened is alive");
        let long_ago = Instant::now() - STARTUP - Duration::from_millis(1);
        liveness.last_moved = Some(long_ago);
        assert!(!liveness.stalled(), "uneven start-up is not a stall");
        liveness.opened = long_ago;
        assert!(liveness.stalled(), "a stream that moved and then stopped");
        liveness.moved();
        assert!(!liveness.stalled());
        liveness.last_moved = None;
        assert!(
            liveness.stalled(),
            "nothing at all within the start-up grace"
        );
        let mut ended = Liveness::new();
        ended.end();
        assert!(ended.stalled());
    }
}
