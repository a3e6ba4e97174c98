use confab_ipc::meeting::{ParticipantView, Quality, ReactionView};
use leptos::prelude::*;

use crate::state::use_meeting;
use crate::video::VideoView;

/// One person: their video (camera, or screen when sharing) or their initials, their name,
/// microphone state, a ring while they speak, a raised hand, a warning when their connection
/// is poor, and a pin. `focused`: the large tile of the speaker layout.
#[component]
pub fn Tile(identity: String, #[prop(into)] focused: Signal<bool>) -> impl IntoView {
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
    let pinned = {
        let identity = identity.clone();
        Memo::new(move |_| {
            meeting
                .pinned
                .with(|pinned| pinned.as_deref() == Some(identity.as_str()))
        })
    };
    let pin = {
        let identity = identity.clone();
        move |_| meeting.toggle_pin(&identity)
    };
    view! {
        <figure
            class="tile"
            class:speaking=move || person.with(|p| p.speaking)
            class:focus=move || focused.get()
            class:pinned=move || pinned.get()
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
                {move || fresh_reaction(person.with(|p| p.reaction.clone())).map(|emoji| view! {
                    <span class="reaction" role="img" aria-label="reaction">{emoji}</span>
                })}
                {move || quality_warning(person.with(|p| p.quality)).map(|(class, text)| view! {
                    <span class=format!("quality {class}") role="status">{text}</span>
                })}
            </figcaption>
            <button
                class="pin"
                type="button"
                aria-pressed=move || pinned.get().to_string()
                title=move || if pinned.get() { "Unpin" } else { "Pin to the large tile" }
                on:click=pin
            >
                {move || if pinned.get() { "Unpin" } else { "Pin" }}
            </button>
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

/// How long after it came a reaction is still worth showing (its animation takes 4 s).
const REACTION_SHOWN_MS: f64 = 5_000.0;

/// The emoji of a reaction that came moments ago (older ones are not shown again when a tile
/// is drawn anew).
fn fresh_reaction(reaction: Option<ReactionView>) -> Option<String> {
    reaction
        .filter(|r| js_sys::Date::now() - r.seen_at as f64 <= REACTION_SHOWN_MS)
        .map(|r| r.emoji)
}

/// What a tile says about a connection worth mentioning (good ones say nothing).
fn quality_warning(quality: Quality) -> Option<(&'static str, &'static str)> {
    match quality {
        Quality::Poor => Some(("poor", "Poor connection")),
        Quality::Lost => Some(("lost", "Connection lost")),
        Quality::Unknown | Quality::Excellent | Quality::Good => None,
    }
}
