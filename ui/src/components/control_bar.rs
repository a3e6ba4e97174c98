use confab_ipc::meeting::ShareTargetView;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::device_check::MeetingDevices;
use crate::ipc::use_backend;
use crate::state::{Layout, use_meeting};

/// Microphone, camera, screen share, hand, chat, people, layout, leave — and end for
/// everyone, for hosts.
#[component]
pub fn ControlBar() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let me = Memo::new(move |_| meeting.me().unwrap_or_default());
    let (problem, set_problem) = signal(None::<String>);
    let (targets, set_targets) = signal(None::<Vec<ShareTargetView>>);
    // "Share screen" lists what can be shared; "Stop sharing" stops.
    let share = {
        let backend = backend.clone();
        Callback::new(move |()| {
            let backend = backend.clone();
            let sharing = me.with_untracked(|m| m.screen.is_some());
            spawn_local(async move {
                let result = if sharing {
                    backend.stop_share().await
                } else {
                    backend
                        .list_share_targets()
                        .await
                        .map(|list| set_targets.set(Some(list)))
                };
                set_problem.set(result.err().map(|error| error.message));
            });
        })
    };
    let pick = {
        let backend = backend.clone();
        Callback::new(move |id: String| {
            let backend = backend.clone();
            set_targets.set(None);
            spawn_local(async move {
                let result = backend.start_share(&id).await;
                set_problem.set(result.err().map(|error| error.message));
            });
        })
    };
    let act = Callback::new(move |action: Action| {
        let backend = backend.clone();
        let me = me.get_untracked();
        spawn_local(async move {
            let result = match action {
                Action::Microphone => backend.set_microphone(me.microphone_muted).await,
                Action::Camera => backend.set_camera(me.camera.is_none()).await,
                Action::Hand => backend.raise_hand(!me.hand_raised).await,
                Action::Leave => backend.leave_meeting().await,
                Action::End => backend.end_meeting().await,
            };
            set_problem.set(result.err().map(|error| error.message));
        });
    });
    view! {
        <footer class="controls">
            <button
                id="mic-button"
                type="button"
                aria-pressed=move || (!me.with(|m| m.microphone_muted)).to_string()
                on:click=move |_| act.run(Action::Microphone)
            >
                {move || if me.with(|m| m.microphone_muted) { "Unmute" } else { "Mute" }}
            </button>
            <button
                id="camera-button"
                type="button"
                aria-pressed=move || me.with(|m| m.camera.is_some()).to_string()
                on:click=move |_| act.run(Action::Camera)
            >
                {move || if me.with(|m| m.camera.is_some()) { "Stop video" } else { "Start video" }}
            </button>
            <button
                id="share-button"
                type="button"
                aria-pressed=move || me.with(|m| m.screen.is_some()).to_string()
                on:click=move |_| share.run(())
            >
                {move || if me.with(|m| m.screen.is_some()) { "Stop sharing" } else { "Share screen" }}
            </button>
            <Show when=move || targets.with(Option::is_some)>
                <SharePicker targets=Signal::derive(move || targets.get().unwrap_or_default()) pick cancel=Callback::new(move |()| set_targets.set(None)) />
            </Show>
            <Reactions on_error=Callback::new(move |message| set_problem.set(Some(message))) />
            <MeetingDevices on_error=Callback::new(move |message| set_problem.set(Some(message))) />
            <button id="hand-button" type="button" on:click=move |_| act.run(Action::Hand)>
                {move || if me.with(|m| m.hand_raised) { "Lower hand" } else { "Raise hand" }}
            </button>
            <button
                id="chat-button"
                type="button"
                aria-pressed=move || meeting.chat_open.get().to_string()
                on:click=move |_| meeting.chat_open.update(|open| *open = !*open)
            >
                "Chat"
            </button>
            <button
                id="people-button"
                type="button"
                aria-pressed=move || meeting.people_open.get().to_string()
                on:click=move |_| meeting.people_open.update(|open| *open = !*open)
            >
                {move || {
                    let waiting = meeting.waiting_room.with(|room| room.guests.len());
                    if waiting > 0 { format!("People ({waiting} waiting)") } else { "People".to_owned() }
                }}
            </button>
            <button
                id="layout-button"
                type="button"
                on:click=move |_| meeting.layout.update(|layout| {
                    *layout = match layout {
                        Layout::Grid => Layout::Speaker,
                        Layout::Speaker => Layout::Grid,
                    }
                })
            >
                {move || match meeting.layout.get() {
                    Layout::Grid => "Speaker view",
                    Layout::Speaker => "Grid view",
                }}
            </button>
            <button id="leave-button" class="danger" type="button" on:click=move |_| act.run(Action::Leave)>
                "Leave"
            </button>
            <Show when=move || meeting.is_host()>
                <button id="end-button" class="danger" type="button" on:click=move |_| act.run(Action::End)>
                    "End for everyone"
                </button>
            </Show>
            <Show when=move || problem.get().is_some()>
                <p id="controls-error" class="field-error" role="alert">{move || problem.get()}</p>
            </Show>
        </footer>
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Microphone,
    Camera,
    Hand,
    Leave,
    End,
}

/// What can be shared: each screen and window by name and size; picking one shares it.
#[component]
fn SharePicker(
    targets: Signal<Vec<ShareTargetView>>,
    pick: Callback<String>,
    cancel: Callback<()>,
) -> impl IntoView {
    view! {
        <div id="share-picker" class="share-picker card" role="dialog" aria-label="Share your screen">
            <h2>"Share your screen"</h2>
            <Show when=move || targets.with(Vec::is_empty)>
                <p class="hint">"There is nothing to share on this display."</p>
            </Show>
            <ul>
                <For
                    each=move || targets.get()
                    key=|target| target.id.clone()
                    children=move |target| {
                        let id = target.id.clone();
                        let kind = if target.is_screen { "Screen" } else { "Window" };
                        view! {
                            <li>
                                <button class="share-target" type="button" data-id=target.id.clone() on:click=move |_| pick.run(id.clone())>
                                    <span class="kind">{kind}</span>
                                    " "
                                    {target.name.clone()}
                                    <span class="size">{format!(" {}×{}", target.width, target.height)}</span>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            <button id="share-cancel" type="button" on:click=move |_| cancel.run(())>"Cancel"</button>
        </div>
    }
}

/// The reactions offered.
const REACTIONS: [(&str, &str); 6] = [
    ("👍", "thumbs up"),
    ("👏", "applause"),
    ("😂", "laughing"),
    ("🎉", "celebration"),
    ("❤️", "heart"),
    ("😮", "surprise"),
];

/// "React": a row of emoji; picking one shows it on our tile for everyone.
#[component]
fn Reactions(on_error: Callback<String>) -> impl IntoView {
    let backend = use_backend();
    let (open, set_open) = signal(false);
    let send = Callback::new(move |emoji: &'static str| {
        let backend = backend.clone();
        set_open.set(false);
        spawn_local(async move {
            if let Err(error) = backend.react(emoji).await {
                on_error.run(error.message);
            }
        });
    });
    view! {
        <div class="reactions">
            <button
                id="react-button"
                type="button"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| set_open.update(|open| *open = !*open)
            >
                "React"
            </button>
            <Show when=move || open.get()>
                <div id="reaction-picker" class="reaction-picker" role="menu">
                    {REACTIONS
                        .iter()
                        .map(|(emoji, label)| view! {
                            <button type="button" role="menuitem" aria-label=*label data-emoji=*emoji on:click=move |_| send.run(emoji)>
                                {*emoji}
                            </button>
                        })
                        .collect_view()}
                </div>
            </Show>
        </div>
    }
}
