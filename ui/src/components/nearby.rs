use confab_ipc::meeting::{MediaChoice, NearbyMeeting};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// How often the list is refreshed while the home screen is up.
const REFRESH_MS: i32 = 10_000;

/// Meetings hosts on the LAN chose to list, each with a Join button. Nothing shows when there
/// are none (or the app does not search the LAN).
#[component]
pub fn NearbyMeetings(name: ReadSignal<String>, media: ReadSignal<MediaChoice>) -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (found, set_found) = signal(Vec::<NearbyMeeting>::new());
    let (problem, set_problem) = signal(None::<String>);
    let alive = StoredValue::new(true);
    on_cleanup(move || alive.set_value(false));
    {
        let backend = backend.clone();
        spawn_local(async move {
            while alive.try_get_value().unwrap_or(false) {
                if let Ok(nearby) = backend.nearby_meetings().await {
                    set_found.set(nearby);
                }
                crate::time::sleep_ms(REFRESH_MS).await;
            }
        });
    }
    let join = Callback::new(move |listed: NearbyMeeting| {
        meeting.join_at(
            backend.clone(),
            listed.code,
            listed.host,
            name.get_untracked(),
            media.get_untracked(),
            set_problem,
        );
    });
    view! {
        <Show when=move || !found.get().is_empty()>
            <section class="card nearby" aria-label="Meetings nearby">
                <h2>"Meetings nearby"</h2>
                <ul id="nearby-list">
                    <For
                        each=move || found.get()
                        key=|listed| listed.code.to_string()
                        children=move |listed| {
                            let target = listed.clone();
                            view! {
                                <li data-code=listed.code.to_string()>
                                    <span class="who">{listed.title.clone()}</span>
                                    <button class="primary" type="button" on:click=move |_| join.run(target.clone())>
                                        "Join"
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
