use confab_ipc::meeting::{TransferState, TransferView};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;
use crate::time::clock;

/// The chat: every line with who and when, and a box to write to everyone or privately to one
/// person.
#[component]
pub fn ChatPanel() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (draft, set_draft) = signal(String::new());
    let (to, set_to) = signal(String::new());
    let (problem, set_problem) = signal(None::<String>);
    let others = Memo::new(move |_| {
        meeting.participants.with(|participants| {
            participants
                .iter()
                .filter(|p| !p.is_local)
                .map(|p| (p.identity.clone(), p.name.clone()))
                .collect::<Vec<_>>()
        })
    });
    // Everyone (empty), or the one person picked under "To".
    let recipients = move || -> Vec<String> {
        Some(to.get_untracked())
            .filter(|t| !t.is_empty())
            .into_iter()
            .collect()
    };
    let attach = {
        let backend = backend.clone();
        move |_| {
            let backend = backend.clone();
            let recipients = recipients();
            spawn_local(async move {
                let result = backend.attach_files(&recipients).await;
                set_problem.set(result.err().map(|error| error.message));
            });
        }
    };
    let send = move |event: SubmitEvent| {
        event.prevent_default();
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty() {
            return;
        }
        let recipients = recipients();
        let backend = backend.clone();
        spawn_local(async move {
            match backend.send_chat(&text, &recipients).await {
                Ok(()) => {
                    set_draft.set(String::new());
                    set_problem.set(None);
                }
                Err(error) => set_problem.set(Some(error.message)),
            }
        });
    };
    view! {
        <aside class="panel chat" aria-label="Chat">
            <h2>"Chat"</h2>
            <ol id="chat-log">
                <For
                    each=move || meeting.chat.get()
                    key=|line| line.id.clone()
                    children=move |line| {
                        view! {
                            <li class:private=line.private data-from=line.from.clone()>
                                <span class="who">{line.from_name.clone()}</span>
                                <time>{clock(line.timestamp)}</time>
                                <Show when=move || line.private>
                                    <span class="badge">"private"</span>
                                </Show>
                                <p class="text">{line.text.clone()}</p>
                            </li>
                        }
                    }
                />
            </ol>
            <Transfers />
            <p class="hint">"Attach files for the person picked under To, or drop them on the window for everyone."</p>
            <form id="chat-form" on:submit=send>
                <label for="chat-to">"To"</label>
                <select id="chat-to" on:change=move |event| set_to.set(event_target_value(&event))>
                    <option value="">"Everyone"</option>
                    <For
                        each=move || others.get()
                        key=|(identity, _)| identity.clone()
                        children=|(identity, name)| view! { <option value=identity>{name}</option> }
                    />
                </select>
                <input
                    id="chat-input"
                    type="text"
                    placeholder="Message"
                    autocomplete="off"
                    prop:value=draft
                    on:input=move |event| set_draft.set(event_target_value(&event))
                />
                <button id="chat-send" type="submit">"Send"</button>
                <button id="attach-button" type="button" title="Send files" on:click=attach>"Attach"</button>
            </form>
            <Show when=move || problem.get().is_some()>
                <p class="field-error" role="alert">{move || problem.get()}</p>
            </Show>
        </aside>
    }
}

/// Files in and out: who, what, how far, and where a received one was saved; an outgoing one
/// still under way can be cancelled.
#[component]
fn Transfers() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (problem, set_problem) = signal(None::<String>);
    let act = move |action: FileAction| {
        let backend = backend.clone();
        Callback::new(move |id: String| {
            let backend = backend.clone();
            spawn_local(async move {
                let done = match action {
                    FileAction::Cancel => backend.cancel_transfer(&id).await,
                    FileAction::Open => backend.open_received_file(&id).await,
                    FileAction::Show => backend.show_received_file(&id).await,
                };
                set_problem.set(done.err().map(|error| error.message));
            });
        })
    };
    let (cancel, open, show) = (
        act(FileAction::Cancel),
        act(FileAction::Open),
        act(FileAction::Show),
    );
    view! {
        <Show when=move || !meeting.transfers.get().is_empty()>
            <ul id="transfers">
                <For
                    each=move || meeting.transfers.get()
                    key=|t| (t.id.clone(), t.bytes, format!("{:?}", t.state))
                    children=move |transfer| {
                        let id = transfer.id.clone();
                        let running = transfer.state == TransferState::Active;
                        let saved = !transfer.outgoing
                            && matches!(transfer.state, TransferState::Done { path: Some(_) });
                        let (open_id, show_id) = (id.clone(), id.clone());
                        view! {
                            <li data-id=transfer.id.clone() class:outgoing=transfer.outgoing>
                                <span class="who">{describe(&transfer)}</span>
                                <progress
                                    max=transfer.total.unwrap_or(0).max(transfer.bytes).to_string()
                                    value=transfer.bytes.to_string()
                                ></progress>
                                <span class="state">{state_text(&transfer)}</span>
                                {(running && transfer.outgoing).then(|| view! {
                                    <button class="cancel" type="button" on:click=move |_| cancel.run(id.clone())>
                                        "Cancel"
                                    </button>
                                })}
                                {saved.then(|| view! {
                                    <span class="file-actions">
                                    <button class="open-file" type="button" on:click=move |_| open.run(open_id.clone())>
                                        "Open"
                                    </button>
                                    <button class="show-file" type="button" on:click=move |_| show.run(show_id.clone())>
                                        "Show in folder"
                                    </button>
                                    </span>
                                })}
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || problem.get().is_some()>
                <p id="transfer-error" class="field-error" role="alert">{move || problem.get()}</p>
            </Show>
        </Show>
    }
}

#[derive(Debug, Clone, Copy)]
enum FileAction {
    Cancel,
    Open,
    Show,
}

fn describe(transfer: &TransferView) -> String {
    if transfer.outgoing {
        format!("You are sending {}", transfer.name)
    } else {
        format!("{} from {}", transfer.name, transfer.from_name)
    }
}

fn state_text(transfer: &TransferView) -> String {
    match &transfer.state {
        TransferState::Active => match transfer.total {
            Some(total) if total > 0 => format!("{} %", transfer.bytes * 100 / total),
            _ => format!("{} kB", transfer.bytes / 1000),
        },
        TransferState::Done { path: Some(path) } => format!("Saved to {path}"),
        TransferState::Done { path: None } => "Sent".to_owned(),
        TransferState::Failed { message } => format!("Failed: {message}"),
    }
}
