use confab_ipc::CommandError;
use confab_ipc::devices::{
    DeviceList, DeviceSlot, GLOBAL_PUSH_TO_TALK, HostingServer, HostingServerSetting,
    MediaPreferences, VideoQuality,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::components::device_check::{DevicePickers, device_chooser};
use crate::ipc::use_backend;
use crate::state::{Screen, use_meeting};

/// Settings: the devices, how the microphone is processed, how much of the camera is sent
/// (each change saved at once), and the LiveKit server to host on.
#[component]
pub fn Settings() -> impl IntoView {
    let backend = use_backend();
    let meeting = use_meeting();
    let (devices, set_devices) = signal(None::<DeviceList>);
    let (preferences, set_preferences) = signal(None::<MediaPreferences>);
    let (problem, set_problem) = signal(None::<String>);
    let (global_talk, set_global_talk) = signal(false);
    {
        let backend = backend.clone();
        spawn_local(async move {
            if let Ok(profile) = backend.profile().await {
                set_preferences.set(Some(profile.media));
                set_global_talk.set(profile.global_push_to_talk);
            }
            match backend.list_devices().await {
                Ok(list) => set_devices.set(Some(list)),
                Err(error) => set_problem.set(Some(error.message)),
            }
        });
    }
    let choose = device_chooser(
        backend.clone(),
        set_devices,
        Callback::new(move |(_, chosen): (DeviceSlot, Result<(), CommandError>)| {
            set_problem.set(chosen.err().map(|error| error.message));
        }),
    );
    let toggle_global_talk = {
        let backend = backend.clone();
        move |event: leptos::ev::Event| {
            let on = event_target_checked(&event);
            let input: web_sys::HtmlInputElement = event_target(&event);
            let backend = backend.clone();
            spawn_local(async move {
                match backend.set_global_push_to_talk(on).await {
                    Ok(()) => {
                        set_global_talk.set(on);
                        set_problem.set(None);
                    }
                    Err(error) => {
                        // Not taken: the box shows what is true (off).
                        input.set_checked(false);
                        set_global_talk.set(false);
                        set_problem.set(Some(error.message));
                    }
                }
            });
        }
    };
    let change = Callback::new(
        move |edit: Box<dyn FnOnce(&mut MediaPreferences) + Send + Sync>| {
            let Some(mut changed) = preferences.get_untracked() else {
                return;
            };
            edit(&mut changed);
            set_preferences.set(Some(changed));
            let backend = backend.clone();
            spawn_local(async move {
                let result = backend.set_media_preferences(changed).await;
                set_problem.set(result.err().map(|error| error.message));
            });
        },
    );
    let switch = move |id: &'static str,
                       label: &'static str,
                       read: fn(&MediaPreferences) -> bool,
                       write: fn(&mut MediaPreferences, bool)| {
        view! {
            <label class="toggle">
                <input
                    id=id
                    type="checkbox"
                    prop:checked=move || preferences.get().as_ref().is_some_and(read)
                    on:change=move |event| {
                        let on = event_target_checked(&event);
                        change.run(Box::new(move |p| write(p, on)));
                    }
                />
                {label}
            </label>
        }
    };
    view! {
        <main class="settings">
            <header class="brand">
                <h1>"Settings"</h1>
                <button id="settings-back" type="button" on:click=move |_| meeting.screen.set(Screen::Home)>
                    "Done"
                </button>
            </header>
            <section class="card devices" aria-label="Devices">
                <h2>"Devices"</h2>
                <div class="device-grid">
                    <DevicePickers devices choose />
                </div>
            </section>
            <section class="card sound" aria-label="Sound">
                <h2>"Your microphone"</h2>
                {switch("echo-cancellation", "Echo cancellation", |p| p.echo_cancellation, |p, on| p.echo_cancellation = on)}
                {switch("noise-suppression", "Noise suppression", |p| p.noise_suppression, |p, on| p.noise_suppression = on)}
                {switch("auto-gain", "Automatic volume", |p| p.auto_gain, |p, on| p.auto_gain = on)}
                <p class="hint">"Turn echo cancellation off only with headphones."</p>
                <label class="toggle">
                    <input
                        id="global-ptt"
                        type="checkbox"
                        prop:checked=move || global_talk.get()
                        on:change=toggle_global_talk
                    />
                    {format!("Push-to-talk in any app: hold {GLOBAL_PUSH_TO_TALK} while muted")}
                </label>
            </section>
            <section class="card video" aria-label="Video">
                <h2>"Your camera"</h2>
                <label for="video-quality">"Send up to"</label>
                <select
                    id="video-quality"
                    on:change=move |event| {
                        let quality = match event_target_value(&event).as_str() {
                            "medium" => VideoQuality::Medium,
                            "low" => VideoQuality::Low,
                            _ => VideoQuality::High,
                        };
                        change.run(Box::new(move |p| p.video_quality = quality));
                    }
                >
                    <option value="high" selected=move || quality_is(preferences, VideoQuality::High)>"720p (best)"</option>
                    <option value="medium" selected=move || quality_is(preferences, VideoQuality::Medium)>"360p"</option>
                    <option value="low" selected=move || quality_is(preferences, VideoQuality::Low)>"180p (slow networks)"</option>
                </select>
                <p class="hint">"A new quality applies the next time your camera starts."</p>
            </section>
            <HostingServerSettings />
            <Show when=move || problem.get().is_some()>
                <p id="settings-error" class="field-error" role="alert">{move || problem.get()}</p>
            </Show>
        </main>
    }
}

fn quality_is(preferences: ReadSignal<Option<MediaPreferences>>, quality: VideoQuality) -> bool {
    preferences
        .get()
        .is_some_and(|p| p.video_quality == quality)
}

/// The LiveKit server to host on: its URL and API key (shown again), its API secret (sent to
/// the OS keyring on Save, never shown back: the field stays empty).
#[component]
fn HostingServerSettings() -> impl IntoView {
    let backend = use_backend();
    let (server, set_server) = signal(None::<HostingServer>);
    let (url, set_url) = signal(String::new());
    let (api_key, set_api_key) = signal(String::new());
    let (secret, set_secret) = signal(String::new());
    let (status, set_status) = signal(None::<Result<&'static str, String>>);
    let show = move |saved: Option<HostingServer>| {
        set_url.set(saved.as_ref().map(|s| s.url.clone()).unwrap_or_default());
        set_api_key.set(
            saved
                .as_ref()
                .map(|s| s.api_key.clone())
                .unwrap_or_default(),
        );
        set_secret.set(String::new());
        set_server.set(saved);
    };
    {
        let backend = backend.clone();
        spawn_local(async move {
            if let Ok(profile) = backend.profile().await {
                show(profile.hosting_server);
            }
        });
    }
    let apply = move |setting: Option<HostingServerSetting>, done: &'static str| {
        let backend = backend.clone();
        set_status.set(None);
        spawn_local(async move {
            match backend.set_hosting_server(setting).await {
                Ok(profile) => {
                    show(profile.hosting_server);
                    set_status.set(Some(Ok(done)));
                }
                Err(error) => set_status.set(Some(Err(error.message))),
            }
        });
    };
    let save = {
        let apply = apply.clone();
        move |_| {
            let setting = HostingServerSetting {
                url: url.get_untracked(),
                api_key: api_key.get_untracked(),
                api_secret: secret.get_untracked(),
            };
            apply(Some(setting), "Saved. The secret is in the system keyring.");
        }
    };
    let remove = move |_| apply(None, "Removed, with its secret.");
    let field = move |id: &'static str,
                      label: &'static str,
                      kind: &'static str,
                      value: ReadSignal<String>,
                      set: WriteSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input
                id=id
                type=kind
                autocomplete="off"
                spellcheck="false"
                prop:value=move || value.get()
                on:input=move |event| set.set(event_target_value(&event))
            />
        }
    };
    view! {
        <section class="card hosting" aria-label="Hosting server">
            <h2>"Host on a LiveKit server"</h2>
            <p class="hint">
                "For meetings larger than this computer carries: a LiveKit server of your own or \
                 LiveKit Cloud carries the video. Codes and the waiting room still come from this app."
            </p>
            <div class="server-fields">
                {field("server-url", "Server URL", "url", url, set_url)}
                {field("server-key", "API key", "text", api_key, set_api_key)}
                {field("server-secret", "API secret", "password", secret, set_secret)}
            </div>
            <Show when=move || server.get().is_some()>
                <p id="server-saved" class="hint">
                    {move || server.get().map(|s| format!("Saved: {} with key {}. Its secret is in the system keyring; enter it again to change the server.", s.url, s.api_key))}
                </p>
            </Show>
            <div class="actions">
                <button id="save-server" type="button" on:click=save>"Save"</button>
                <Show when=move || server.get().is_some()>
                    <button id="remove-server" type="button" on:click=remove.clone()>"Remove"</button>
                </Show>
            </div>
            {move || match status.get() {
                Some(Ok(done)) => view! { <p id="server-status" class="hint" role="status">{done}</p> }.into_any(),
                Some(Err(problem)) => view! { <p id="server-status" class="field-error" role="alert">{problem}</p> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}
