//! Screen sharing on Wayland: the desktop's own picker chooses through xdg-desktop-portal
//! ([`crate::portal`]), the picture arrives as a PipeWire stream ([`crate::pipewire_stream`]).
//!
//! Wayland lets no application list other applications' windows, so the share picker offers
//! two entries, "a screen" and "a window", and the desktop asks which one.

use crate::pipewire_stream::PipeWireStream;
use crate::portal::{self, PortalSession};
use crate::{
    FramePacer, ScreenBackend, ScreenError, ShareKind, ShareOptions, ShareTarget,
    provisional_layout,
};
use confab_frame::i420::I420Layout;
use confab_frame::source::{CaptureError, CapturedFrame, VideoSource};

/// The target ids this backend offers.
pub const SCREEN_ID: &str = "portal:screen";
pub const WINDOW_ID: &str = "portal:window";

/// The desktop's ScreenCast portal.
#[derive(Debug)]
pub struct PortalScreens {
    /// The D-Bus the portal is on (its address); the session bus when `None`.
    bus: Option<String>,
    offer: portal::PortalOffer,
}

impl PortalScreens {
    /// Finds the ScreenCast portal on the bus at `bus`, or on the session bus.
    pub fn connect(bus: Option<&str>) -> Result<Self, ScreenError> {
        Ok(Self {
            bus: bus.map(str::to_owned),
            offer: portal::offer(bus)?,
        })
    }
}

impl ScreenBackend for PortalScreens {
    fn name(&self) -> &'static str {
        "Wayland (xdg-desktop-portal + PipeWire)"
    }

    fn targets(&self) -> Result<Vec<ShareTarget>, ScreenError> {
        let mut targets = Vec::new();
        if self.offer.screens {
            targets.push(ShareTarget {
                id: SCREEN_ID.into(),
                kind: ShareKind::Screen,
                name: "A screen (your desktop asks which)".into(),
                width: 0,
                height: 0,
            });
        }
        if self.offer.windows {
            targets.push(ShareTarget {
                id: WINDOW_ID.into(),
                kind: ShareKind::Window,
                name: "A window (your desktop asks which)".into(),
                width: 0,
                height: 0,
            });
        }
        Ok(targets)
    }

    fn open(&self, id: &str, options: ShareOptions) -> Result<Box<dyn VideoSource>, ScreenError> {
        let kind = match id {
            SCREEN_ID if self.offer.screens => ShareKind::Screen,
            WINDOW_ID if self.offer.windows => ShareKind::Window,
            _ => return Err(ScreenError::NotFound(id.to_owned())),
        };
        let (session, chosen) = portal::start(self.bus.as_deref(), kind, options.cursor)?;
        let pacer = FramePacer::new(options.max_fps);
        let stream = PipeWireStream::open(chosen.remote, chosen.node_id, options.max_fps)
            .map_err(|error| ScreenError::PipeWire(error.to_string()))?;
        Ok(Box::new(PortalCapture {
            stream,
            _session: session,
            portal_size: provisional_layout(chosen.size),
            pacer,
        }))
    }
}

/// A running portal share. Fields drop in order: the stream stops before the session closes.
#[derive(Debug)]
pub struct PortalCapture {
    stream: PipeWireStream,
    _session: PortalSession,
    portal_size: I420Layout,
    pacer: FramePacer,
}

impl VideoSource for PortalCapture {
    fn layout(&self) -> I420Layout {
        self.stream.layout_or(self.portal_size)
    }

    /// The compositor's newest picture at each frame time: a still screen repeats its last
    /// picture, as viewers expect a steady stream.
    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        self.pacer.wait();
        self.stream.newest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offered_kinds_open() {
        let screens_only = PortalScreens {
            bus: None,
            offer: portal::PortalOffer {
                screens: true,
                windows: false,
            },
        };
        let targets = screens_only.targets().expect("targets");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].id, SCREEN_ID);
        assert!(matches!(
            screens_only.open(WINDOW_ID, ShareOptions::default()),
            Err(ScreenError::NotFound(_))
        ));
        assert!(matches!(
            screens_only.open("screen:0", ShareOptions::default()),
            Err(ScreenError::NotFound(_))
        ));
    }
}
