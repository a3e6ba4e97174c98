use confab_ipc::meeting::{JoinArgs, MediaChoice};
use confab_ipc::{Invite, InviteError};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// "Join with a code": a code (or an invitation link) validated as the person types, then a
/// request to join.
///
/// The error appears once the person has tried to join (or left a non-empty field), then
/// follows every keystroke, so a fixed code clears it at once without nagging while typing the
/// first time.
#[component]
pub fn JoinForm(name: ReadSignal<String>, media: ReadSignal<MediaChoice>) -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (text, set_text) = signal(String::new());
    let (show_errors, set_show_errors) = signal(false);
    let (busy, set_busy) = signal(false);
    let (failure, set_failure) = signal(None::<String>);
    let parsed = Memo::new(move |_| Invite::parse(&text.get()));
    // An invitation link opened with the app fills the field, ready to join.
    Effect::new(move |_| {
        if let Some(link) = meeting.invite.get() {
            meeting.invite.set(None);
            set_text.set(link);
            set_show_errors.set(true);
        }
    });
    let error = Memo::new(move |_| {
        show_errors
            .get()
            .then(|| parsed.get().err().map(|e| describe(&e)))
            .flatten()
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        set_show_errors.set(true);
        let Ok(invite) = parsed.get_untracked() else {
            return;
        };
        let backend = backend.clone();
        let args = JoinArgs {
            code: invite.code,
            host: invite.host,
            name: name.get_untracked().trim().to_owned(),
            media: media.get_untracked(),
        };
        set_busy.set(true);
        set_failure.set(None);
        spawn_local(async move {
            match backend.join_meeting(args).await {
                Ok(info) => meeting.enter(backend, info),
                Err(refused) => set_failure.set(Some(refused.message)),
            }
            set_busy.set(false);
        });
    };

    view! {
        <form class="card join" on:submit=submit novalidate>
            <h2>"Join with a code"</h2>
            <label for="join-code">"Meeting code or invitation link"</label>
            <input
                id="join-code"
                name="code"
                type="text"
                placeholder="abc-defg-hij"
                autocomplete="off"
                autocapitalize="none"
                spellcheck="false"
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby="join-code-error"
                prop:value=text
                on:input=move |event| {
                    set_text.set(event_target_value(&event));
                    set_failure.set(None);
                }
                on:blur=move |_| {
                    if !text.get_untracked().trim().is_empty() {
                        set_show_errors.set(true);
                    }
                }
            />
            <Show when=move || error.get().is_some()>
                <p id="join-code-error" class="field-error" role="alert">
                    {move || error.get()}
                </p>
            </Show>
            <button id="join-button" class="primary" type="submit" disabled=move || busy.get()>
                {move || if busy.get() { "Joining…" } else { "Join" }}
            </button>
            <Show when=move || failure.get().is_some()>
                <p id="join-status" class="field-error" role="alert">
                    {move || failure.get()}
                </p>
            </Show>
        </form>
    }
}

fn describe(error: &InviteError) -> String {
    match error {
        InviteError::Code(code) => code.to_string(),
        other => other.to_string(),
    }
}
