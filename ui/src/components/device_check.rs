//! "Check camera and sound" on the home screen: the picked camera's picture, a meter of the
//! picked microphone, pickers for camera, microphone and speaker (remembered by the app), and
//! a test chime on the speaker. Nothing opens a device until the user opens the check; it
//! closes with "Done" or when the home screen goes (the app closes it on joining too).

use confab_ipc::CommandError;
use confab_ipc::devices::{DeviceList, DeviceOption, DeviceSlot, PreviewStarted};
use confab_ipc::meeting::FrameChannel;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::{Backend, use_backend};
use crate::time::sleep_ms;
use crate::video::VideoView;

/// How often the meter asks for the microphone's level.
const METER_EVERY_MS: i32 = 100;

/// What "System default" is stored as in a picker (an empty value).
const SYSTEM_DEFAULT: &str = "";

#[component]
pub fn DeviceCheck() -> impl IntoView {
    let backend = use_backend();
    let (open, set_open) = signal(false);
    // Bumped at every (re)start: a meter loop or a picture from an earlier start stops.
    let (generation, set_generation) = signal(0u32);
    let (devices, set_devices) = signal(None::<DeviceList>);
    let (started, set_started) = signal(None::<PreviewStarted>);
    let (channel, set_channel) = signal(None::<FrameChannel>);
    let (level, set_level) = signal(0f32);
    let (chiming, set_chiming) = signal(false);
    let (error, set_error) = signal(None::<String>);

    let restart = {
        let backend = backend.clone();
        Callback::new(move |()| {
            let backend = backend.clone();
            set_generation.update(|g| *g += 1);
            let mine = generation.get_untracked();
            set_started.set(None);
            spawn_local(async move {
                match backend.start_preview().await {
                    Ok(answer) => set_started.set(Some(answer)),
                    Err(failure) => set_error.set(Some(failure.message)),
                }
                meter(backend, mine, generation, open, set_level).await;
            });
        })
    };
    let open_check = {
        let backend = backend.clone();
        Callback::new(move |()| {
            let backend = backend.clone();
            set_open.set(true);
            set_error.set(None);
            spawn_local(async move {
                if let Ok(list) = backend.list_devices().await {
                    set_devices.set(Some(list));
                }
                if let Ok(frames) = backend.frame_channel().await {
                    set_channel.set(Some(frames));
                }
            });
            restart.run(());
        })
    };
    let close = {
        let backend = backend.clone();
        Callback::new(move |()| {
            set_open.set(false);
            set_generation.update(|g| *g += 1);
            set_level.set(0.0);
            let backend = backend.clone();
            spawn_local(async move {
                let _ = backend.stop_preview().await;
            });
        })
    };
    let choose = device_chooser(
        backend.clone(),
        set_devices,
        Callback::new(
            move |(slot, chosen): (DeviceSlot, Result<(), CommandError>)| {
                match chosen {
                    Err(failure) => set_error.set(Some(failure.message)),
                    // The check shows the new camera or microphone; a speaker shows with the chime.
                    Ok(()) if slot != DeviceSlot::Speaker => restart.run(()),
                    Ok(()) => {}
                }
            },
        ),
    );
    let chime = {
        let backend = backend.clone();
        Callback::new(move |()| {
            let backend = backend.clone();
            set_chiming.set(true);
            spawn_local(async move {
                if let Err(failure) = backend.play_test_sound().await {
                    set_error.set(Some(failure.message));
                }
                set_chiming.set(false);
            });
        })
    };
    // Leaving the home screen closes an open check (reading signals that may be going too).
    on_cleanup(move || {
        if open.try_get_untracked() == Some(true) {
            spawn_local(async move {
                let _ = backend.stop_preview().await;
            });
        }
    });

    view! {
        <section class="device-check card" aria-label="Camera and sound">
            <Show
                when=move || open.get()
                fallback=move || view! {
                    <button id="check-devices" type="button" on:click=move |_| open_check.run(())>
                        "Check camera and sound"
                    </button>
                }
            >
                <div class="preview">
                    {move || {
                        let shown = started.get().and_then(|s| s.camera_track);
                        match (shown, channel.get()) {
                            (Some(track), Some(channel)) => {
                                view! { <VideoView track channel /> }.into_any()
                            }
                            _ => view! {
                                <div id="preview-off" class="initials">
                                    {move || started.get().and_then(|s| s.camera_error).unwrap_or_else(|| "No camera".into())}
                                </div>
                            }.into_any(),
                        }
                    }}
                </div>
                <label for="mic-level">"Microphone"</label>
                <meter id="mic-level" min="0" max="1" low="0.15" high="0.85" value=move || level.get().to_string()></meter>
                <Show when=move || started.get().and_then(|s| s.microphone_error).is_some()>
                    <p id="microphone-error" class="field-error">
                        {move || started.get().and_then(|s| s.microphone_error)}
                    </p>
                </Show>
                <DevicePickers devices choose />
                <div class="row">
                    <button id="test-sound" type="button" disabled=move || chiming.get() on:click=move |_| chime.run(())>
                        {move || if chiming.get() { "Playing…" } else { "Play test sound" }}
                    </button>
                    <button id="close-check" type="button" on:click=move |_| close.run(())>
                        "Done"
                    </button>
                </div>
                <Show when=move || error.get().is_some()>
                    <p id="device-error" class="field-error" role="alert">{move || error.get()}</p>
                </Show>
            </Show>
        </section>
    }
}

/// Shows the microphone's level until the check closes or starts again.
async fn meter(
    backend: Backend,
    mine: u32,
    generation: ReadSignal<u32>,
    open: ReadSignal<bool>,
    set_level: WriteSignal<f32>,
) {
    while open.get_untracked() && generation.get_untracked() == mine {
        match backend.preview_level().await {
            Ok(level) => set_level.set(level),
            Err(_) => return,
        }
        sleep_ms(METER_EVERY_MS).await;
    }
}

/// Pickers for the camera, the microphone and the speaker.
#[component]
pub fn DevicePickers(
    devices: ReadSignal<Option<DeviceList>>,
    choose: Callback<(DeviceSlot, String)>,
) -> impl IntoView {
    view! {
        <Picker kind=DeviceSlot::Camera label="Camera" devices choose />
        <Picker kind=DeviceSlot::Microphone label="Microphone" devices choose />
        <Picker kind=DeviceSlot::Speaker label="Speaker" devices choose />
    }
}

/// During a meeting: "Devices" opens the pickers; a pick moves the running camera,
/// microphone or speaker to it at once.
#[component]
pub fn MeetingDevices(on_error: Callback<String>) -> impl IntoView {
    let backend = use_backend();
    let (devices, set_devices) = signal(None::<DeviceList>);
    let open = {
        let backend = backend.clone();
        Callback::new(move |()| {
            if devices.with_untracked(Option::is_some) {
                set_devices.set(None);
                return;
            }
            let backend = backend.clone();
            spawn_local(async move {
                match backend.list_devices().await {
                    Ok(list) => set_devices.set(Some(list)),
                    Err(error) => on_error.run(error.message),
                }
            });
        })
    };
    let choose = device_chooser(
        backend,
        set_devices,
        Callback::new(move |(_, chosen): (DeviceSlot, Result<(), CommandError>)| {
            if let Err(error) = chosen {
                on_error.run(error.message);
            }
        }),
    );
    view! {
        <div class="meeting-devices">
            <button
                id="devices-button"
                type="button"
                aria-expanded=move || devices.with(Option::is_some).to_string()
                on:click=move |_| open.run(())
            >
                "Devices"
            </button>
            <Show when=move || devices.with(Option::is_some)>
                <div id="device-pickers" class="device-pickers card" role="dialog" aria-label="Devices">
                    <DevicePickers devices choose />
                </div>
            </Show>
        </div>
    }
}

/// What a picker's change does: shows the pick in `devices`, sends it (`id` empty: the system
/// default), and tells `done` how it went.
pub fn device_chooser(
    backend: Backend,
    set_devices: WriteSignal<Option<DeviceList>>,
    done: Callback<(DeviceSlot, Result<(), CommandError>)>,
) -> Callback<(DeviceSlot, String)> {
    Callback::new(move |(slot, id): (DeviceSlot, String)| {
        let backend = backend.clone();
        let id = (id != SYSTEM_DEFAULT).then_some(id);
        set_devices.update(|list| {
            if let Some(list) = list {
                list.chosen.set(slot, id.clone());
            }
        });
        spawn_local(async move {
            let chosen = backend.choose_device(slot, id.as_deref()).await;
            done.run((slot, chosen));
        });
    })
}

/// One picker: "System default" and every device of its kind, the picked one selected.
#[component]
fn Picker(
    kind: DeviceSlot,
    label: &'static str,
    devices: ReadSignal<Option<DeviceList>>,
    choose: Callback<(DeviceSlot, String)>,
) -> impl IntoView {
    let id = match kind {
        DeviceSlot::Camera => "pick-camera",
        DeviceSlot::Microphone => "pick-microphone",
        DeviceSlot::Speaker => "pick-speaker",
    };
    let options = move || -> Vec<DeviceOption> {
        devices.with(|list| {
            list.as_ref()
                .map(|l| l.options(kind).to_vec())
                .unwrap_or_default()
        })
    };
    let chosen = move || {
        devices.with(|list| {
            list.as_ref()
                .and_then(|l| l.chosen.get(kind).map(str::to_owned))
                .unwrap_or_default()
        })
    };
    view! {
        <label for=id>{label}</label>
        <select id=id on:change=move |event| choose.run((kind, event_target_value(&event)))>
            <option value=SYSTEM_DEFAULT selected=move || chosen().is_empty()>"System default"</option>
            <For
                each=options
                key=|device| device.id.clone()
                children=move |device| {
                    let value = device.id.clone();
                    let selected = move || chosen() == value;
                    let name = if device.is_default {
                        format!("{} (default)", device.name)
                    } else {
                        device.name.clone()
                    };
                    view! { <option value=device.id.clone() selected=selected>{name}</option> }
                }
            />
        </select>
    }
}
