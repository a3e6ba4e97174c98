//! Keyboard shortcuts in a meeting: M mutes and unmutes, V starts and stops the video, and
//! while muted, holding Space talks (push-to-talk). Keys typed into a field are text, not
//! shortcuts.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    ToggleMicrophone,
    ToggleCamera,
    /// Space went down (true) or up (false).
    PushToTalk(bool),
}

/// The shortcut for a key event's `key`, pressed (`down`) or released; repeats are ignored.
pub fn shortcut(key: &str, down: bool, repeat: bool) -> Option<Shortcut> {
    if repeat {
        return None;
    }
    match (key, down) {
        ("m" | "M", true) => Some(Shortcut::ToggleMicrophone),
        ("v" | "V", true) => Some(Shortcut::ToggleCamera),
        (" ", pressed) => Some(Shortcut::PushToTalk(pressed)),
        _ => None,
    }
}

/// Listens for the shortcuts while the meeting screen is up.
pub fn install() {
    let backend = use_backend();
    let meeting = use_meeting();
    // Space unmuted us: releasing it mutes again (and only then).
    let talking = StoredValue::new(false);
    let act = Callback::new(move |shortcut: Shortcut| {
        let Some(me) = meeting.me() else {
            return;
        };
        let backend = backend.clone();
        let change = match shortcut {
            Shortcut::ToggleMicrophone => Some(Change::Microphone(me.microphone_muted)),
            Shortcut::ToggleCamera => Some(Change::Camera(me.camera.is_none())),
            Shortcut::PushToTalk(true) if me.microphone_muted => {
                talking.set_value(true);
                Some(Change::Microphone(true))
            }
            Shortcut::PushToTalk(false) if talking.get_value() => {
                talking.set_value(false);
                Some(Change::Microphone(false))
            }
            Shortcut::PushToTalk(_) => None,
        };
        if let Some(change) = change {
            spawn_local(async move {
                let _ = match change {
                    Change::Microphone(on) => backend.set_microphone(on).await,
                    Change::Camera(on) => backend.set_camera(on).await,
                };
            });
        }
    });
    let handle = move |event: web_sys::KeyboardEvent, down: bool| {
        if typing(&event) || event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        if let Some(shortcut) = shortcut(&event.key(), down, event.repeat()) {
            event.prevent_default();
            act.run(shortcut);
        }
    };
    let down = window_event_listener(ev::keydown, move |event| handle(event, true));
    let up = window_event_listener(ev::keyup, move |event| handle(event, false));
    on_cleanup(move || {
        down.remove();
        up.remove();
    });
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Microphone(bool),
    Camera(bool),
}

/// Whether the key went to a text field, a list or a button (where Space means "press").
fn typing(event: &web_sys::KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|element| {
            matches!(
                element.tag_name().to_ascii_lowercase().as_str(),
                "input" | "textarea" | "select" | "button"
            )
        })
}
