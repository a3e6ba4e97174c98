use confab_ipc::devices::RecentMeeting;
use confab_ipc::meeting::MediaChoice;
use leptos::prelude::*;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// Meetings joined lately (the app remembers them), each with a Join again button; a meeting
/// that has ended says so when joined.
#[component]
pub fn RecentMeetings(
    recent: ReadSignal<Vec<RecentMeeting>>,
    name: ReadSignal<String>,
    media: ReadSignal<MediaChoice>,
) -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (problem, set_problem) = signal(None::<String>);
    let join = Callback::new(move |joined: RecentMeeting| {
        meeting.join_at(
            backend.clone(),
            joined.code,
            joined.host,
            name.get_untracked(),
            media.get_untracked(),
            set_problem,
        );
    });
    view! {
        <Show when=move || !recent.get().is_empty()>
            <section class="card recent" aria-label="Recent meetings">
                <h2>"Recent meetings"</h2>
                <ul id="recent-list">
                    <For
                        each=move || recent.get()
                        key=|joined| joined.code.to_string()
                        children=move |joined| {
                            let target = joined.clone();
                            let title = if joined.title.is_empty() {
                                joined.code.to_string()
                            } else {
                                joined.title.clone()
                            };
                            view! {
                                <li data-code=joined.code.to_string()>
                                    <span class="who">{title}</span>
                                    <span class="hint">{joined.host.clone()}</span>
                                    <button type="button" on:click=move |_| join.run(target.clone())>
                                        "Join again"
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
                <Show when=move || problem.get().is_some()>
                    <p class="field-error" role="alert">{move || problem.get()}</p>
                </Show>
            </section>
        </Show>
    }
}
