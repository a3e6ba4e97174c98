use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// A guest waits here until a host lets them in (or turns them away).
#[component]
pub fn Waiting() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let cancel = move |_| {
        let backend = backend.clone();
        spawn_local(async move {
            let _ = backend.leave_meeting().await;
        });
    };
    view! {
        <main id="waiting" class="waiting">
            <h1>"Waiting for the host to let you in"</h1>
            <p class="hint">
                {move || meeting.info.with(|info| info.as_ref().map(|info| format!("Meeting {}", info.code)))}
            </p>
            <p class="hint">"The host has been told you are here. Nobody sees or hears you until you are let in."</p>
            <button id="cancel-waiting" type="button" on:click=cancel>"Cancel"</button>
        </main>
    }
}
