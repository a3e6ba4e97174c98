//! Finding windows on the X display by title, to check that a command really opened one.

use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, Window};
use x11rb::rust_connection::RustConnection;

use crate::screen_capture::{CaptureError, connect_to_screen};

/// A window whose title matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWindow {
    pub id: Window,
    pub title: String,
    pub width: u16,
    pub height: u16,
    /// The owning process, from `_NET_WM_PID` (set by GTK and most toolkits).
    pub pid: Option<u32>,
}

/// Searches the window tree of the display named by `DISPLAY` for viewable windows titled
/// exactly `title` (via `_NET_WM_NAME`, falling back to `WM_NAME`).
pub fn find_by_title(title: &str) -> Result<Vec<FoundWindow>, CaptureError> {
    let (connection, screen) = connect_to_screen()?;
    let root = screen.root;
    let net_wm_name = connection
        .intern_atom(false, b"_NET_WM_NAME")?
        .reply()?
        .atom;
    let net_wm_pid = connection.intern_atom(false, b"_NET_WM_PID")?.reply()?.atom;
    let mut found = Vec::new();
    let mut pending = vec![root];
    while let Some(window) = pending.pop() {
        let window_title = read_title(&connection, window, net_wm_name)?;
        if window_title.as_deref() == Some(title) {
            let attributes = connection.get_window_attributes(window)?.reply()?;
            let geometry = connection.get_geometry(window)?.reply()?;
            let viewable = attributes.map_state == x11rb::protocol::xproto::MapState::VIEWABLE;
            if viewable {
                let pid = connection
                    .get_property(false, window, net_wm_pid, AtomEnum::CARDINAL, 0, 1)?
                    .reply()?
                    .value32()
                    .and_then(|mut values| values.next());
                found.push(FoundWindow {
                    id: window,
                    title: title.to_owned(),
                    width: geometry.width,
                    height: geometry.height,
                    pid,
                });
            }
        }
        pending.extend(connection.query_tree(window)?.reply()?.children);
    }
    Ok(found)
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

/// Puts `window` above its siblings (no window manager runs under Xvfb, so nothing else
/// would), so a capture of the display shows it.
pub fn raise(window: Window) -> Result<(), CaptureError> {
    use x11rb::protocol::xproto::{ConfigureWindowAux, StackMode};
    let (connection, _) = x11rb::connect(None)?;
    connection.configure_window(
        window,
        &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
    )?;
    // A round trip: the server has restacked before the caller captures.
    connection.get_input_focus()?.reply()?;
    Ok(())
}

/// Gives `window` the keyboard focus (as a click on it would under a window manager), so
/// every other window is unfocused.
pub fn focus(window: Window) -> Result<(), CaptureError> {
    use x11rb::CURRENT_TIME;
    use x11rb::protocol::xproto::InputFocus;
    let (connection, _) = x11rb::connect(None)?;
    connection.set_input_focus(InputFocus::PARENT, window, CURRENT_TIME)?;
    connection.get_input_focus()?.reply()?;
    Ok(())
}
