use confab_ipc::meeting::ParticipantView;
use leptos::prelude::*;

use crate::state::use_meeting;
use crate::video::VideoView;

/// One person: their video (camera, or screen when sharing) or their initials, their name,
/// microphone state, a ring while they speak, and a raised hand.
#[component]
pub fn Tile(identity: String) -> impl IntoView {
    let meeting = use_meeting();
    let person = {
        let identity = identity.clone();
        Memo::new(move |_| {
            meeting.participants.with(|participants| {
                participants
                    .iter()
                    .find(|p| p.identity == identity)
                    .cloned()
                    .unwrap_or_default()
            })
        })
    };
    let video = Memo::new(move |_| person.with(|p| p.screen.clone().or_else(|| p.camera.clone())));
    view! {
        <figure
            class="tile"
            class:speaking=move || person.with(|p| p.speaking)
            data-identity=identity
        >
            {move || match (video.get(), meeting.frames.get()) {
                (Some(track), Some(channel)) => view! { <VideoView track channel /> }.into_any(),
                _ => view! { <div class="initials">{move || initials(&person.get())}</div> }.into_any(),
            }}
            <figcaption>
                <span class="name">
                    {move || {
                        person.with(|p| if p.is_local { format!("{} (you)", p.name) } else { p.name.clone() })
                    }}
                </span>
                <Show when=move || person.with(|p| p.is_host)>
                    <span class="badge">"Host"</span>
                </Show>
                <span class="mic" aria-label=move || {
                    if person.with(|p| p.microphone_muted) { "microphone off" } else { "microphone on" }
                }>
                    {move || if person.with(|p| p.microphone_muted) { "🔇" } else { "🎙" }}
                </span>
                <Show when=move || person.with(|p| p.hand_raised)>
                    <span class="hand" aria-label="hand raised">"✋"</span>
                </Show>
            </figcaption>
        </figure>
    }
}

fn initials(person: &ParticipantView) -> String {
    person
        .name
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase()
}
