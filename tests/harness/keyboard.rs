//! Keys pressed on the X display as a keyboard would (the XTEST extension): the server treats
//! them like real ones, grabs included, whichever window has the focus.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::ConnectionExt;
use x11rb::protocol::xtest::ConnectionExt as _;

use crate::screen_capture::{CaptureError, connect_to_screen};

pub const CONTROL_L: u32 = 0xffe3;
pub const ALT_L: u32 = 0xffe9;
pub const SPACE: u32 = 0x20;

/// Presses `keysyms` in order and holds them.
pub fn press(keysyms: &[u32]) -> Result<(), CaptureError> {
    send(
        keysyms.iter().copied(),
        x11rb::protocol::xproto::KEY_PRESS_EVENT,
    )
}

/// Lets `keysyms` go, in reverse order.
pub fn release(keysyms: &[u32]) -> Result<(), CaptureError> {
    send(
        keysyms.iter().rev().copied(),
        x11rb::protocol::xproto::KEY_RELEASE_EVENT,
    )
}

fn send(keysyms: impl Iterator<Item = u32>, kind: u8) -> Result<(), CaptureError> {
    let (connection, screen) = connect_to_screen()?;
    let root = screen.root;
    let (first, last) = (
        connection.setup().min_keycode,
        connection.setup().max_keycode,
    );
    let map = connection
        .get_keyboard_mapping(first, last - first + 1)?
        .reply()?;
    let per_keycode = usize::from(map.keysyms_per_keycode.max(1));
    for keysym in keysyms {
        let keycode = map
            .keysyms
            .chunks(per_keycode)
            .position(|syms| syms.contains(&keysym))
            .and_then(|index| u8::try_from(index).ok())
            .map(|index| first + index)
            .ok_or_else(|| CaptureError::Unsupported(format!("no key for keysym {keysym:#x}")))?;
        connection.xtest_fake_input(kind, keycode, x11rb::CURRENT_TIME, root, 0, 0, 0)?;
    }
    // A round trip: the server has taken the keys before the caller looks for their effect.
    connection.get_input_focus()?.reply()?;
    Ok(())
}
