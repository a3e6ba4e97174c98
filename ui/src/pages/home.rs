use confab_ipc::meeting::MediaChoice;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::app_info_footer::AppInfoFooter;
use crate::components::device_check::DeviceCheck;
use crate::components::host_card::HostCard;
use crate::components::join_form::JoinForm;
use crate::components::nearby::NearbyMeetings;
use crate::components::recent::RecentMeetings;
use crate::ipc::use_backend;
use crate::state::{Screen, use_meeting};

/// The first screen: your name (the one used last time, remembered by the app), camera and
/// microphone to start with and a check of them, then host a meeting or join one by code.
#[component]
pub fn Home() -> impl IntoView {
    let meeting = use_meeting();
    let (name, set_name) = signal(String::new());
    let (recent, set_recent) = signal(Vec::new());
    let (server, set_server) = signal(None);
    let backend = use_backend();
    spawn_local(async move {
        let Ok(profile) = backend.profile().await else {
            return;
        };
        set_recent.set(profile.recent_meetings);
        set_server.set(profile.hosting_server);
        if let Some(remembered) = profile.name
            && name.get_untracked().is_empty()
        {
            set_name.set(remembered);
        }
    });
    let (media, set_media) = signal(MediaChoice {
        camera: true,
        microphone: true,
    });
    view! {
        <main class="home">
            <header class="brand">
                <img class="brand-logo" src="/logo.svg" alt="" width="56" height="56" />
                <div>
                    <h1>"Confab"</h1>
                    <p class="tagline">"Meetings hosted on your own computer."</p>
                </div>
                <button id="settings-button" class="settings-link" type="button" on:click=move |_| meeting.screen.set(Screen::Settings)>
                    "Settings"
                </button>
            </header>
            <section class="you card" aria-label="You">
                <label for="display-name">"Your name"</label>
                <input
                    id="display-name"
                    type="text"
                    placeholder="The name others see"
                    autocomplete="name"
                    prop:value=name
                    on:input=move |event| set_name.set(event_target_value(&event))
                />
                <Toggle
                    id="start-camera"
                    label="Camera on"
                    checked=Signal::derive(move || media.get().camera)
                    set=Callback::new(move |on| set_media.update(|media| media.camera = on))
                />
                <Toggle
                    id="start-microphone"
                    label="Microphone on"
                    checked=Signal::derive(move || media.get().microphone)
                    set=Callback::new(move |on| set_media.update(|media| media.microphone = on))
                />
            </section>
            <DeviceCheck />
            <section class="actions" aria-label="Start or join a meeting">
                <HostCard name media server />
                <JoinForm name media />
            </section>
            <NearbyMeetings name media />
            <RecentMeetings recent name media />
            <AppInfoFooter />
        </main>
    }
}

/// A labelled checkbox.
#[component]
fn Toggle(
    id: &'static str,
    label: &'static str,
    checked: Signal<bool>,
    set: Callback<bool>,
) -> impl IntoView {
    view! {
        <label class="toggle">
            <input
                id=id
                type="checkbox"
                prop:checked=move || checked.get()
                on:change=move |event| set.run(event_target_checked(&event))
            />
            {label}
        </label>
    }
}
