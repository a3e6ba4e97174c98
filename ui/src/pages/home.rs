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
                <label class="toggle">
                    <input
                        id="start-camera"
                        type="checkbox"
                        prop:checked=move || media.get().camera
                        on:change=move |event| {
                            let on = event_target_checked(&event);
                            set_media.update(|media| media.camera = on);
                        }
                    />
                    "Camera on"
                </label>
                <label class="toggle">
                    <input
                        id="start-microphone"
                        type="checkbox"
                        prop:checked=move || media.get().microphone
                        on:change=move |event| {
                            let on = event_target_checked(&event);
                            set_media.update(|media| media.microphone = on);
                        }
                    />
                    "Microphone on"
                </label>
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
