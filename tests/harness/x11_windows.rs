//! Finding windows on the X display by title, to check that a command really opened one.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, Window};
use x11rb::rust_connection::RustConnection;

use crate::screen_capture::CaptureError;

/// A window whose title matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWindow {
    pub id: Window,
    pub title: String,
    pub width: u16,
    pub height: u16,
}

/// Searches the window tree of the display named by `DISPLAY` for a viewable window titled
/// exactly `title` (via `_NET_WM_NAME`, falling back to `WM_NAME`).
pub fn find_by_title(title: &str) -> Result<Option<FoundWindow>, CaptureError> {
    let (connection, screen_index) = x11rb::connect(None)?;
    let root = connection
        .setup()
        .roots
        .get(screen_index)
        .ok_or_else(|| CaptureError::Unsupported(format!("no screen {screen_index}")))?
        .root;
    let net_wm_name = connection
        .intern_atom(false, b"_NET_WM_NAME")?
        .reply()?
        .atom;
    let mut pending = vec![root];
    while let Some(window) = pending.pop() {
        let window_title = read_title(&connection, window, net_wm_name)?;
        if window_title.as_deref() == Some(title) {
            let attributes = connection.get_window_attributes(window)?.reply()?;
            let geometry = connection.get_geometry(window)?.reply()?;
            let viewable = attributes.map_state == x11rb::protocol::xproto::MapState::VIEWABLE;
            if viewable {
                return Ok(Some(FoundWindow {
                    id: window,
                    title: title.to_owned(),
                    width: geometry.width,
                    height: geometry.height,
                }));
            }
        }
        pending.extend(connection.query_tree(window)?.reply()?.children);
    }
    Ok(None)
}

fn read_title(
    connection: &RustConnection,
    window: Window,
    net_wm_name: u32,
) -> Result<Option<String>, CaptureError> {
    for property in [net_wm_name, AtomEnum::WM_NAME.into()] {
        let reply = connection
            .get_property(false, window, property, AtomEnum::ANY, 0, 256)?
            .reply()?;
        if !reply.value.is_empty() {
            return Ok(Some(String::from_utf8_lossy(&reply.value).into_owned()));
        }
    }
    Ok(None)
}
