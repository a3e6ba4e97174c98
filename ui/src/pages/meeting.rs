use leptos::prelude::*;

use crate::components::chat_panel::ChatPanel;
use crate::components::control_bar::ControlBar;
use crate::components::people_panel::PeoplePanel;
use crate::components::tile::Tile;
use crate::state::{Layout, use_meeting};

/// The meeting: everyone's tiles, the controls, and the chat and people panels.
#[component]
pub fn Meeting() -> impl IntoView {
    let meeting = use_meeting();
    crate::shortcuts::install();
    let identities = Memo::new(move |_| {
        meeting.participants.with(|participants| {
            participants
                .iter()
                .map(|p| p.identity.clone())
                .collect::<Vec<_>>()
        })
    });
    let count = Memo::new(move |_| identities.with(Vec::len));
    let focus = Memo::new(move |_| meeting.focus());
    let speaker_layout = move || meeting.layout.get() == Layout::Speaker;
    view! {
        <main class="meeting">
            <header class="meeting-bar">
                <h1>{move || meeting.info.with(|info| info.as_ref().map(|i| if i.title.is_empty() { i.code.to_string() } else { i.title.clone() }))}</h1>
                <span id="meeting-code" class="code">
                    {move || meeting.info.with(|info| info.as_ref().map(|i| i.code.to_string()))}
                </span>
                <Show when=move || meeting.info.with(|info| info.as_ref().is_some_and(|i| i.invite.is_some()))>
                    <input
                        id="invite-link"
                        class="invite"
                        readonly
                        aria-label="Invitation link"
                        prop:value=move || meeting.info.with(|info| info.as_ref().and_then(|i| i.invite.clone()))
                    />
                </Show>
                <Show when=move || meeting.reconnecting.get()>
                    <span id="reconnecting" class="status" role="status">"Reconnecting…"</span>
                </Show>
            </header>
            <section
                id="stage"
                class="stage"
                class:speaker=speaker_layout
                data-count=move || count.get().to_string()
            >
                <For
                    each=move || identities.get()
                    key=|identity| identity.clone()
                    children=move |identity| {
                        let mine = identity.clone();
                        let focused = Signal::derive(move || {
                            speaker_layout() && focus.with(|f| f.as_deref() == Some(mine.as_str()))
                        });
                        view! { <Tile identity focused /> }
                    }
                />
            </section>
            <Show when=move || meeting.chat_open.get()>
                <ChatPanel />
            </Show>
            <Show when=move || meeting.people_open.get()>
                <PeoplePanel />
            </Show>
            <ControlBar />
        </main>
    }
}
