//! Global push-to-talk on X11: Ctrl+Alt+Space is grabbed on the root window, so holding it
//! talks whichever app is in front (the core unmutes while it is held, if we were muted).
//! Wayland gives apps no global keys, so there it is refused with that reason; so it is on
//! systems without X11 here (macOS and Windows are not built yet).

use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum PushToTalkError {
    #[error(
        "Global push-to-talk needs an X11 desktop; on Wayland, hold Space in the Confab window."
    )]
    Wayland,
    #[error("Global push-to-talk is not available on this system yet.")]
    Unsupported,
    #[error("Ctrl+Alt+Space is taken by another app.")]
    Taken,
    #[error("The X display did not answer: {0}")]
    Display(String),
}

/// The keys while grabbed; dropping this lets them go.
#[derive(Debug)]
pub struct GlobalPushToTalk {
    #[cfg(target_os = "linux")]
    grab: x11::Grab,
}

impl GlobalPushToTalk {
    /// Grabs the keys; each press (true) and release (false) goes to `keys`, in order.
    pub fn start(keys: mpsc::UnboundedSender<bool>) -> Result<Self, PushToTalkError> {
        if std::env::var_os("WAYLAND_DISPLAY").is_some_and(|display| !display.is_empty()) {
            return Err(PushToTalkError::Wayland);
        }
        #[cfg(target_os = "linux")]
        {
            Ok(Self {
                grab: x11::Grab::start(keys)?,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = keys;
            Err(PushToTalkError::Unsupported)
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for GlobalPushToTalk {
    fn drop(&mut self) {
        self.grab.stop();
    }
}

#[cfg(target_os = "linux")]
mod x11 {
    use std::thread::JoinHandle;

    use tokio::sync::mpsc;
    use x11rb::connection::Connection;
    use x11rb::errors::ReplyError;
    use x11rb::protocol::Event;
    use x11rb::protocol::xproto::{
        ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, GrabMode, ModMask,
        WindowClass,
    };
    use x11rb::rust_connection::RustConnection;

    use super::PushToTalkError;

    const SPACE: u32 = 0x20;

    #[derive(Debug)]
    pub struct Grab {
        /// Our own unmapped window, which a stop message wakes the listening thread on.
        window: u32,
        thread: Option<JoinHandle<()>>,
    }

    impl Grab {
        pub fn start(keys: mpsc::UnboundedSender<bool>) -> Result<Self, PushToTalkError> {
            let (connection, screen) = x11rb::connect(None).map_err(display)?;
            let root = connection
                .setup()
                .roots
                .get(screen)
                .ok_or_else(|| PushToTalkError::Display(format!("no screen {screen}")))?
                .root;
            let space = keycode_of(&connection, SPACE)?;
            let window = connection.generate_id().map_err(display)?;
            connection
                .create_window(
                    0,
                    window,
                    root,
                    0,
                    0,
                    1,
                    1,
                    0,
                    WindowClass::INPUT_ONLY,
                    0,
                    &CreateWindowAux::new(),
                )
                .map_err(display)?;
            for locks in lock_combinations() {
                let grabbed = connection
                    .grab_key(
                        false,
                        root,
                        ModMask::CONTROL | ModMask::M1 | locks,
                        space,
                        GrabMode::ASYNC,
                        GrabMode::ASYNC,
                    )
                    .map_err(display)?
                    .check();
                match grabbed {
                    Ok(()) => {}
                    Err(ReplyError::X11Error(error))
                        if error.error_kind == x11rb::protocol::ErrorKind::Access =>
                    {
                        return Err(PushToTalkError::Taken);
                    }
                    Err(error) => return Err(display(error)),
                }
            }
            let thread = std::thread::Builder::new()
                .name("push-to-talk".into())
                .spawn(move || listen(connection, root, space, window, keys))
                .map_err(display)?;
            tracing::info!("global push-to-talk on Ctrl+Alt+Space");
            Ok(Self {
                window,
                thread: Some(thread),
            })
        }

        /// Wakes the listening thread with a message on our window; it lets the keys go.
        pub fn stop(&mut self) {
            let sent = x11rb::connect(None)
                .map_err(display)
                .and_then(|(connection, _)| {
                    let message = ClientMessageEvent::new(32, self.window, 0u32, [0u32; 5]);
                    connection
                        .send_event(false, self.window, EventMask::NO_EVENT, message)
                        .map_err(display)?;
                    connection.flush().map_err(display)
                });
            if let Err(error) = sent {
                tracing::warn!(%error, "push-to-talk could not be stopped");
                return;
            }
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    /// The key's events until a message on `window` says stop; then the grabs are let go.
    fn listen(
        connection: RustConnection,
        root: u32,
        space: u8,
        window: u32,
        keys: mpsc::UnboundedSender<bool>,
    ) {
        let mut held = false;
        let mut pending = None;
        loop {
            let event = match pending.take() {
                Some(event) => event,
                None => match connection.wait_for_event() {
                    Ok(event) => event,
                    Err(error) => {
                        tracing::warn!(%error, "push-to-talk lost the X display");
                        break;
                    }
                },
            };
            match event {
                Event::KeyPress(press) if press.detail == space && !held => {
                    held = true;
                    let _ = keys.send(true);
                }
                Event::KeyRelease(release) if release.detail == space => {
                    // A held key repeats as a release and a press with the same time.
                    match connection.poll_for_event() {
                        Ok(Some(Event::KeyPress(again)))
                            if again.detail == space && again.time == release.time => {}
                        next => {
                            pending = next.ok().flatten();
                            held = false;
                            let _ = keys.send(false);
                        }
                    }
                }
                Event::ClientMessage(message) if message.window == window => break,
                _ => {}
            }
        }
        for locks in lock_combinations() {
            let _ = connection.ungrab_key(space, root, ModMask::CONTROL | ModMask::M1 | locks);
        }
        let _ = connection.destroy_window(window);
        let _ = connection.flush();
        tracing::info!("global push-to-talk off");
    }

    /// Caps Lock and Num Lock (usually Mod2) must not stop the keys from working.
    fn lock_combinations() -> [ModMask; 4] {
        [
            ModMask::from(0u16),
            ModMask::LOCK,
            ModMask::M2,
            ModMask::LOCK | ModMask::M2,
        ]
    }

    /// The keycode the keyboard map gives `keysym`.
    fn keycode_of(connection: &RustConnection, keysym: u32) -> Result<u8, PushToTalkError> {
        let setup = connection.setup();
        let (first, last) = (setup.min_keycode, setup.max_keycode);
        let map = connection
            .get_keyboard_mapping(first, last - first + 1)
            .map_err(display)?
            .reply()
            .map_err(display)?;
        let per_keycode = usize::from(map.keysyms_per_keycode.max(1));
        map.keysyms
            .chunks(per_keycode)
            .position(|syms| syms.contains(&keysym))
            .and_then(|index| u8::try_from(index).ok())
            .map(|index| first + index)
            .ok_or_else(|| PushToTalkError::Display("the keyboard has no Space key".into()))
    }

    fn display(error: impl std::fmt::Display) -> PushToTalkError {
        PushToTalkError::Display(error.to_string())
    }
}

/// The shell's push-to-talk keys: grabbed or not, and where their presses go.
#[derive(Debug)]
pub struct PushToTalkKeys {
    presses: mpsc::UnboundedSender<bool>,
    grab: std::sync::Mutex<Option<GlobalPushToTalk>>,
}

impl PushToTalkKeys {
    /// Keys whose presses go to `presses` while grabbed.
    pub fn new(presses: mpsc::UnboundedSender<bool>) -> Self {
        Self {
            presses,
            grab: std::sync::Mutex::new(None),
        }
    }

    /// Grabs the keys (`on`, when not yet) or lets them go.
    pub fn set(&self, on: bool) -> Result<(), PushToTalkError> {
        let mut grab = self
            .grab
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (on, grab.is_some()) {
            (true, false) => *grab = Some(GlobalPushToTalk::start(self.presses.clone())?),
            (false, true) => *grab = None,
            _ => {}
        }
        Ok(())
    }
}
