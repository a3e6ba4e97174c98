use confab_ipc::meeting::MediaChoice;
use leptos::prelude::*;

use crate::components::app_info_footer::AppInfoFooter;
use crate::components::host_card::HostCard;
use crate::components::join_form::JoinForm;
use crate::components::nearby::NearbyMeetings;

/// The first screen: your name, camera and microphone to start with, then host a meeting or
/// join one by code.
#[component]
pub fn Home() -> impl IntoView {
    let (name, set_name) = signal(String::new());
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
                        <section class="actions" aria-label="Start or join a meeting">
                <HostCard name media />
                <JoinForm name media />
            </section>
            <NearbyMeetings name media />
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
