use confab_ipc::devices::HostingServer;
use confab_ipc::meeting::{HostArgs, MediaChoice};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// "Host a meeting": opens a meeting on this computer (its own server), or on the LiveKit
/// server set up in Settings when one is and the user picks it, and enters it.
#[component]
pub fn HostCard(
    /// The name people will see.
    name: ReadSignal<String>,
    media: ReadSignal<MediaChoice>,
    /// The LiveKit server set up for hosting, if any.
    server: ReadSignal<Option<HostingServer>>,
) -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (on_server, set_on_server) = signal(false);
    let (busy, set_busy) = signal(false);
    let (error, set_error) = signal(None::<String>);
    let host = move |_| {
        let backend = backend.clone();
        let args = HostArgs {
            name: name.get_untracked().trim().to_owned(),
            title: String::new(),
            waiting_room: true,
            media: media.get_untracked(),
            on_server: on_server.get_untracked() && server.get_untracked().is_some(),
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
            <p class="hint">"Start a meeting and share its code."</p>
            <Show when=move || server.get().is_some()>
                <label for="host-on">"Host on"</label>
                <select
                    id="host-on"
                    on:change=move |event| set_on_server.set(event_target_value(&event) == "server")
                >
                    <option value="computer" selected=move || !on_server.get()>"This computer"</option>
                    <option value="server" selected=move || on_server.get()>
                        {move || server.get().map(|server| format!("LiveKit server ({})", server.url))}
                    </option>
                </select>
            </Show>
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
