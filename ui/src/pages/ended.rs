use leptos::prelude::*;

use crate::state::{Screen, use_meeting};

/// The meeting is over for us, and why.
#[component]
pub fn Ended(message: String) -> impl IntoView {
    let meeting = use_meeting();
    view! {
        <main class="ended">
            <h1 id="ended-message">{message}</h1>
            <button id="home-button" class="primary" type="button" on:click=move |_| {
                meeting.info.set(None);
                meeting.screen.set(Screen::Home);
            }>"Back to the start"</button>
        </main>
    }
}
