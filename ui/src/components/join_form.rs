use confab_ipc::MeetingCode;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

/// "Join with a code": a code field validated as the person types.
///
/// The error appears once the person has tried to join (or left a non-empty field), then
/// follows every keystroke, so a fixed code clears it at once without nagging while typing the
/// first time. `on_join` receives the canonical code.
#[component]
pub fn JoinForm(#[prop(optional)] on_join: Option<Callback<MeetingCode>>) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    let (show_errors, set_show_errors) = signal(false);
    let (accepted, set_accepted) = signal(None::<MeetingCode>);
    let parsed = Memo::new(move |_| MeetingCode::parse(&text.get()));
    let error = Memo::new(move |_| {
        show_errors
            .get()
            .then(|| parsed.get().err().map(|e| e.to_string()))
            .flatten()
    });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        set_show_errors.set(true);
        if let Ok(code) = parsed.get_untracked() {
            set_accepted.set(Some(code.clone()));
            if let Some(callback) = on_join {
                callback.run(code);
            }
        }
    };

    view! {
        <form class="card join" on:submit=submit novalidate>
            <h2>"Join with a code"</h2>
            <label for="join-code">"Meeting code"</label>
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
                    set_accepted.set(None);
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
            <button id="join-button" class="primary" type="submit">
                "Join"
            </button>
            <Show when=move || accepted.get().is_some()>
                <p id="join-status" class="status" role="status">
                    {move || {
                        accepted
                            .get()
                            .map(|code| {
                                format!(
                                    "{code} is a valid code. Joining needs the meeting client, which is not in this build yet.",
                                )
                            })
                    }}
                </p>
            </Show>
        </form>
    }
}
