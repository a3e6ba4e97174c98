use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::use_backend;
use crate::state::use_meeting;

/// Everyone in the meeting and, for hosts, the waiting room (admit, deny, admit all) and the
/// controls over each participant (mute their microphone, remove them).
#[component]
pub fn PeoplePanel() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (problem, set_problem) = signal(None::<String>);
    let run = Callback::new(move |action: HostAction| {
        let backend = backend.clone();
        spawn_local(async move {
            let result = match action {
                HostAction::Admit(identity) => backend.admit_guest(&identity).await,
                HostAction::Deny(identity) => backend.deny_guest(&identity).await,
                HostAction::AdmitAll => backend.admit_all().await,
                HostAction::Mute { identity, track } => {
                    backend.mute_participant(&identity, &track).await
                }
                HostAction::Remove(identity) => backend.remove_participant(&identity).await,
            };
            set_problem.set(result.err().map(|error| error.message));
        });
    });
    let waiting = move || meeting.waiting_room.get().guests;
    view! {
        <aside class="panel people" aria-label="People">
            <Show when=move || meeting.is_host() && !waiting().is_empty()>
                <h2>"Waiting to join"</h2>
                <ul id="waiting-list">
                    <For
                        each=waiting
                        key=|guest| guest.identity.clone()
                        children=move |guest| {
                            let admit_id = guest.identity.clone();
                            let deny_id = guest.identity.clone();
                            view! {
                                <li data-identity=guest.identity.clone()>
                                    <span class="who">{guest.name.clone()}</span>
                                    <button class="admit primary" type="button" on:click=move |_| {
                                        run.run(HostAction::Admit(admit_id.clone()));
                                    }>"Admit"</button>
                                    <button class="deny" type="button" on:click=move |_| {
                                        run.run(HostAction::Deny(deny_id.clone()));
                                    }>"Deny"</button>
                                </li>
                            }
                        }
                    />
                </ul>
                <button id="admit-all" type="button" on:click=move |_| run.run(HostAction::AdmitAll)>
                    "Admit all"
                </button>
            </Show>
            <h2>"In the meeting"</h2>
            <ul id="people-list">
                <For
                    each=move || meeting.participants.get()
                    key=|p| (p.identity.clone(), p.microphone_muted, p.hand_raised, p.is_host)
                    children=move |person| {
                        let controls = meeting.is_host() && !person.is_local;
                        let mute_target = person.microphone.clone().filter(|_| !person.microphone_muted);
                        let identity = person.identity.clone();
                        let remove_id = person.identity.clone();
                        view! {
                            <li data-identity=person.identity.clone()>
                                <span class="who">{person.name.clone()}</span>
                                <Show when=move || person.is_host>
                                    <span class="badge">"Host"</span>
                                </Show>
                                <Show when=move || person.hand_raised>
                                    <span class="hand">"✋"</span>
                                </Show>
                                {controls.then(|| view! {
                                    {mute_target.clone().map(|track| {
                                        let identity = identity.clone();
                                        view! {
                                            <button class="mute" type="button" title="They can unmute themselves" on:click=move |_| {
                                                run.run(HostAction::Mute { identity: identity.clone(), track: track.clone() });
                                            }>"Mute"</button>
                                        }
                                    })}
                                    <button class="remove danger" type="button" on:click=move |_| {
                                        run.run(HostAction::Remove(remove_id.clone()));
                                    }>"Remove"</button>
                                })}
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || meeting.is_host()>
                <p class="hint">"Muted people can unmute themselves."</p>
            </Show>
            <Show when=move || problem.get().is_some()>
                <p class="field-error" role="alert">{move || problem.get()}</p>
            </Show>
        </aside>
    }
}

/// What a host does to someone.
#[derive(Debug, Clone)]
enum HostAction {
    Admit(String),
    Deny(String),
    AdmitAll,
    Mute { identity: String, track: String },
    Remove(String),
}
