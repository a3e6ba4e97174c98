use leptos::prelude::*;

use crate::ipc::Backend;
use crate::pages::ended::Ended;
use crate::pages::home::Home;
use crate::pages::meeting::Meeting;
use crate::pages::settings::Settings;
use crate::pages::waiting::Waiting;
use crate::state::{MeetingState, Screen};

/// The root component. The backend is injected so tests can run the real UI against a mock.
#[component]
pub fn App(backend: Backend) -> impl IntoView {
    provide_context(backend.clone());
    let meeting = MeetingState::new();
    provide_context(meeting);
    meeting.follow_invites(backend);
    move || match meeting.screen.get() {
        Screen::Home => view! { <Home /> }.into_any(),
        Screen::Settings => view! { <Settings /> }.into_any(),
        Screen::Waiting => view! { <Waiting /> }.into_any(),
        Screen::Meeting => view! { <Meeting /> }.into_any(),
        Screen::Ended(message) => view! { <Ended message /> }.into_any(),
    }
}
