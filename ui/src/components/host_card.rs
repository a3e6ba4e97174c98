use confab_ipc::meeting::{HostArgs, MediaChoice};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// "Host a meeting": opens a meeting on this computer (its own server) and enters it.
#[component]
pub fn HostCard(
    /// The name people will see.
    name: ReadSignal<String>,
    media: ReadSignal<MediaChoice>,
) -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (busy, set_busy) = signal(false);
    let (error, set_error) = signal(None::<String>);
    let host = move |_| {
        let backend = backend.clone();
        let args = HostArgs {
            name: name.get_untracked().trim().to_owned(),
            title: String::new(),
            waiting_room: true,
            media: media.get_untracked(),
        };
        set_busy.set(true);
        set_error.set(None);
        spawn_local(async move {
            match backend.host_meeting(args).await {
                Ok(info) => meeting.enter(backend, info),
                Err(failure) => set_error.set(Some(failure.message)),
            }
            set_busy.set(false);
        });
    };
    view! {
        <div class="card host">
            <h2>"Host a meeting"</h2>
            <p class="hint">"Start a meeting on this computer and share its code."</p>
            <button
                id="host-button"
                class="primary"
                type="button"
                disabled=move || busy.get()
                on:click=host
            >
                {move || if busy.get() { "Starting…" } else { "Host a meeting" }}
            </button>
            <Show when=move || error.get().is_some()>
                <p id="host-status" class="field-error" role="alert">
                    {move || error.get()}
                </p>
            </Show>
        </div>
    }
}
