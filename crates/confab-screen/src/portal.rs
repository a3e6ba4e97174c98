//! The xdg-desktop-portal ScreenCast handshake: the desktop (GNOME, KDE, wlroots compositors)
//! shows its own picker, and hands back a PipeWire remote with one stream of what the user
//! chose. Wayland gives applications no other way to see the screen.
//!
//! The portal keeps a session open for as long as the D-Bus connection that created it lives,
//! so every share gets its own connection on its own thread, which closes the session when the
//! share is dropped (the desktop then stops its "you are sharing" indicator).

use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ashpd::desktop::PersistMode;
use ashpd::desktop::screencast::{
    CursorMode, Screencast, SelectSourcesOptions, SourceType, StartCastOptions,
};
use ashpd::enumflags2::BitFlags;
use tokio::sync::oneshot;

use crate::{ScreenError, ShareKind};

/// How long the desktop's picker may stay unanswered before the share gives up.
const PICK_TIMEOUT: Duration = Duration::from_secs(180);
/// How long ending a share waits for the portal to confirm.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The stream the user picked.
#[derive(Debug)]
pub struct PortalStream {
    /// A connection to the PipeWire daemon that can see only the shared stream.
    pub remote: OwnedFd,
    pub node_id: u32,
    /// The source's size as the portal reports it (the stream's format has the real one).
    pub size: Option<(u32, u32)>,
}

/// An open portal session; dropping it ends the share on the desktop's side.
#[derive(Debug)]
pub struct PortalSession {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for PortalSession {
    fn drop(&mut self) {
        // A send error means the session thread already ended; nothing is left to close.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the screen-sharing portal thread panicked while closing");
        }
    }
}

/// What the portal offers this desktop: screens, windows, and whether it can draw the pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalOffer {
    pub screens: bool,
    pub windows: bool,
}

/// Asks the ScreenCast portal on `bus` (a D-Bus address; the session bus when `None`)
/// what it can share.
///
/// The D-Bus calls run on a thread of their own, so this may be called from async code too
/// (a runtime cannot be started inside another one).
pub fn offer(bus: Option<&str>) -> Result<PortalOffer, ScreenError> {
    let bus = bus.map(str::to_owned);
    let asking = std::thread::Builder::new()
        .name("screen-portal".into())
        .spawn(move || {
            runtime()?.block_on(async {
                let proxy = connect(bus.as_deref()).await?;
                let types = proxy.available_source_types().await.map_err(refused)?;
                Ok(PortalOffer {
                    screens: types.contains(SourceType::Monitor),
                    windows: types.contains(SourceType::Window),
                })
            })
        })
        .map_err(|error| ScreenError::Portal(format!("cannot start its thread: {error}")))?;
    asking
        .join()
        .map_err(|_| ScreenError::Portal("asking the portal panicked".into()))?
}

/// Opens a session, lets the desktop's picker choose a screen or a window of `kind`, and
/// returns the chosen stream. Blocks until the user has answered the picker (the session
/// lives on a thread of its own, so async callers are fine, if blocked).
pub fn start(
    bus: Option<&str>,
    kind: ShareKind,
    cursor: bool,
) -> Result<(PortalSession, PortalStream), ScreenError> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let bus = bus.map(str::to_owned);
    let thread = std::thread::Builder::new()
        .name("screen-portal".into())
        .spawn(move || run_session(bus.as_deref(), kind, cursor, ready_tx, stop_rx))
        .map_err(|error| ScreenError::Portal(format!("cannot start its thread: {error}")))?;
    let session = PortalSession {
        stop: Some(stop_tx),
        thread: Some(thread),
    };
    match ready_rx.recv() {
        Ok(Ok(stream)) => Ok((session, stream)),
        Ok(Err(error)) => Err(error),
        Err(mpsc::RecvError) => Err(ScreenError::Portal(
            "the portal session ended before it answered".into(),
        )),
    }
}

fn run_session(
    bus: Option<&str>,
    kind: ShareKind,
    cursor: bool,
    ready: mpsc::Sender<Result<PortalStream, ScreenError>>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    runtime.block_on(async move {
        let proxy = match connect(bus).await {
            Ok(proxy) => proxy,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let session = match proxy.create_session(Default::default()).await {
            Ok(session) => session,
            Err(error) => {
                let _ = ready.send(Err(refused(error)));
                return;
            }
        };
        let picked = tokio::time::timeout(PICK_TIMEOUT, pick(&proxy, &session, kind, cursor)).await;
        let outcome = match picked {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(ScreenError::Portal(format!(
                "the desktop's screen picker was not answered within {} s",
                PICK_TIMEOUT.as_secs()
            ))),
        };
        let failed = outcome.is_err();
        // The receiver is gone only if the caller went away; the session closes below anyway.
        let _ = ready.send(outcome);
        if !failed {
            // Either a stop or the share's owner dropping the sender ends the wait.
            let _ = stop.await;
        }
        // A portal that died would keep a Close call waiting for D-Bus's 25 s timeout, and
        // the share's owner waits for this thread.
        match tokio::time::timeout(CLOSE_TIMEOUT, session.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "closing the screen-cast session"),
            Err(_elapsed) => tracing::debug!("the portal did not answer the session's Close"),
        }
    });
}

async fn pick(
    proxy: &Screencast,
    session: &ashpd::desktop::Session<Screencast>,
    kind: ShareKind,
    cursor: bool,
) -> Result<PortalStream, ScreenError> {
    let source = match kind {
        ShareKind::Screen => SourceType::Monitor,
        ShareKind::Window => SourceType::Window,
    };
    let available = proxy.available_cursor_modes().await.unwrap_or_default();
    let mut options = SelectSourcesOptions::default()
        .set_sources(BitFlags::from(source))
        .set_multiple(false)
        .set_persist_mode(PersistMode::DoNot);
    if let Some(mode) = cursor_mode(available, cursor) {
        options = options.set_cursor_mode(mode);
    }
    proxy
        .select_sources(session, options)
        .await
        .and_then(|request| request.response())
        .map_err(refused)?;
    let streams = proxy
        .start(session, None, StartCastOptions::default())
        .await
        .and_then(|request| request.response())
        .map_err(refused)?;
    let chosen = streams
        .streams()
        .first()
        .ok_or_else(|| ScreenError::Portal("the portal started a share with no stream".into()))?;
    let remote = proxy
        .open_pipe_wire_remote(session, Default::default())
        .await
        .map_err(refused)?;
    let size = chosen.size().and_then(|(width, height)| {
        Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?))
    });
    Ok(PortalStream {
        remote,
        node_id: chosen.pipe_wire_node_id(),
        size,
    })
}

/// The pointer drawn into the picture when asked for and offered, else left out when the
/// portal can leave it out, else the portal's default.
fn cursor_mode(available: BitFlags<CursorMode>, cursor: bool) -> Option<CursorMode> {
    let wanted = if cursor {
        CursorMode::Embedded
    } else {
        CursorMode::Hidden
    };
    available.contains(wanted).then_some(wanted)
}

async fn connect(bus: Option<&str>) -> Result<Screencast, ScreenError> {
    let connection = match bus {
        Some(address) => match ashpd::zbus::connection::Builder::address(address) {
            Ok(builder) => builder.build().await,
            Err(error) => Err(error),
        },
        None => ashpd::zbus::Connection::session().await,
    }
    .map_err(|error| ScreenError::Portal(format!("no D-Bus session bus: {error}")))?;
    Screencast::with_connection(connection)
        .await
        .map_err(|error| ScreenError::Portal(format!("no ScreenCast portal answers: {error}")))
}

fn runtime() -> Result<tokio::runtime::Runtime, ScreenError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| ScreenError::Portal(format!("cannot start its event loop: {error}")))
}

fn refused(error: ashpd::Error) -> ScreenError {
    match error {
        ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled) => ScreenError::Cancelled,
        other => ScreenError::Portal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_is_embedded_only_when_asked_for_and_offered() {
        let both = CursorMode::Hidden | CursorMode::Embedded;
        assert_eq!(cursor_mode(both, true), Some(CursorMode::Embedded));
        assert_eq!(cursor_mode(both, false), Some(CursorMode::Hidden));
        assert_eq!(cursor_mode(BitFlags::from(CursorMode::Hidden), true), None);
        assert_eq!(cursor_mode(BitFlags::empty(), false), None);
    }

    #[test]
    fn a_cancelled_picker_is_its_own_error() {
        let cancelled = ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled);
        assert!(matches!(refused(cancelled), ScreenError::Cancelled));
    }
}
