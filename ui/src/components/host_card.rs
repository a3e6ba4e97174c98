use leptos::prelude::*;

/// "Host a meeting". Until the embedded SFU lands, pressing it says so instead of pretending.
#[component]
pub fn HostCard() -> impl IntoView {
    let (notice, set_notice) = signal(None::<&'static str>);
    view! {
        <div class="card host">
            <h2>"Host a meeting"</h2>
            <p class="hint">"Start a meeting on this computer and share its code."</p>
            <button
                id="host-button"
                class="primary"
                type="button"
                on:click=move |_| set_notice.set(Some(
                    "Hosting needs the embedded meeting server, which is not in this build yet.",
                ))
            >
                "Host a meeting"
            </button>
            <Show when=move || notice.get().is_some()>
                <p id="host-status" class="status" role="status">
                    {move || notice.get()}
                </p>
            </Show>
        </div>
    }
}
