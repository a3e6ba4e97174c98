//! Component tests for the home screen, run in headless Chromium by wasm-bindgen-test: the
//! real components against a mock backend, driven with DOM events as a person would.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{Mounted, next_task};
use confab_ipc::meeting::MeetingInfo;
use confab_ipc::{AppInfo, CommandError, ErrorKind, MeetingCode};
use confab_ui::App;
use confab_ui::ipc::Backend;
use confab_ui::ipc::mock::{MockBackend, meeting_error};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn app(mock: &MockBackend) -> Mounted {
    let backend = Backend::Mock(mock.clone());
    Mounted::new(move || view! { <App backend /> }.into_any())
}

#[wasm_bindgen_test]
async fn a_malformed_code_shows_an_inline_error_and_does_not_join() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.type_into("#join-code", "hello");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;
    let message = screen.text("#join-code-error").expect("error text");
    assert!(message.contains("abc-defg-hij"), "{message}");
    assert_eq!(
        screen
            .get("#join-code")
            .get_attribute("aria-invalid")
            .as_deref(),
        Some("true")
    );
    assert_eq!(mock.joined(), None);
}

#[wasm_bindgen_test]
async fn fixing_the_code_clears_the_error_and_joins_with_the_canonical_code_and_name() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.type_into("#join-code", "abc-defg");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;
    screen.type_into("#join-code", " ABC-DEFG-HIJ ");
    screen
        .wait_until("the error to clear", |s| {
            s.find("#join-code-error").is_none()
        })
        .await;
    screen.type_into("#display-name", "  Bob ");
    screen.click("#join-button");
    screen
        .wait_until("the waiting room", |s| s.find("#waiting").is_some())
        .await;
    let joined = mock.joined().expect("joined");
    assert_eq!(
        joined.code,
        MeetingCode::parse("abc-defg-hij").expect("valid")
    );
    assert_eq!(joined.name, "Bob");
    assert_eq!(joined.host, None, "a bare code is looked up on the LAN");
    assert!(joined.media.camera && joined.media.microphone);
}

#[wasm_bindgen_test]
async fn an_invitation_link_joins_at_its_host_with_the_camera_off_if_asked() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.click("#start-camera");
    screen.type_into(
        "#join-code",
        "confab://join/xyz-abcd-efg?host=10.0.0.5:7880",
    );
    screen.click("#join-button");
    screen
        .wait_until("the waiting room", |s| s.find("#waiting").is_some())
        .await;
    let joined = mock.joined().expect("joined");
    assert_eq!(joined.code.as_str(), "xyz-abcd-efg");
    assert_eq!(joined.host.as_deref(), Some("10.0.0.5:7880"));
    assert!(!joined.media.camera && joined.media.microphone);
}

#[wasm_bindgen_test]
async fn typing_alone_does_not_nag_but_leaving_the_field_does() {
    let screen = app(&MockBackend::preview());
    screen.type_into("#join-code", "ab");
    // Let every pending reactive update run before asserting that nothing appeared.
    for _ in 0..5 {
        next_task().await;
    }
    assert!(screen.find("#join-code-error").is_none());
    screen.blur("#join-code");
    screen
        .wait_until("the error after blur", |s| {
            s.find("#join-code-error").is_some()
        })
        .await;
}

#[wasm_bindgen_test]
async fn the_error_names_a_character_that_cannot_be_in_a_code() {
    let screen = app(&MockBackend::preview());
    screen.type_into("#join-code", "abc-d3fg-hij");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;
    let message = screen.text("#join-code-error").expect("error text");
    assert!(message.contains("“3”"), "{message}");
}

#[wasm_bindgen_test]
async fn a_refused_join_says_why_and_stays_home() {
    let mock = MockBackend::preview();
    mock.answer_meeting(Err(meeting_error(
        "No meeting has this code. Check it with the person who invited you.",
    )));
    let screen = app(&mock);
    screen.type_into("#join-code", "abc-defg-hij");
    screen.click("#join-button");
    screen
        .wait_until("the refusal", |s| s.find("#join-status").is_some())
        .await;
    assert!(
        screen
            .text("#join-status")
            .is_some_and(|t| t.contains("No meeting has this code"))
    );
    assert!(
        screen.find("#join-code").is_some(),
        "still on the home screen"
    );
}

#[wasm_bindgen_test]
async fn hosting_opens_the_meeting_with_its_code_and_invitation() {
    let mock = MockBackend::preview();
    mock.answer_meeting(Ok(MeetingInfo {
        code: MeetingCode::parse("kso-hjaj-zbm").expect("code"),
        title: String::new(),
        invite: Some("confab://join/kso-hjaj-zbm?host=192.168.1.5:7880".into()),
        identity: "host-1".into(),
        is_host: true,
        waiting: false,
    }));
    let screen = app(&mock);
    screen.type_into("#display-name", "Ada");
    screen.click("#host-button");
    screen
        .wait_until("the meeting", |s| s.find("#stage").is_some())
        .await;
    assert_eq!(
        screen.text("#meeting-code").as_deref(),
        Some("kso-hjaj-zbm")
    );
    let invite: web_sys::HtmlInputElement =
        wasm_bindgen::JsCast::unchecked_into(screen.get("#invite-link"));
    assert_eq!(
        invite.value(),
        "confab://join/kso-hjaj-zbm?host=192.168.1.5:7880"
    );
    let hosted = mock.hosted().expect("hosted");
    assert_eq!(hosted.name, "Ada");
    assert!(hosted.waiting_room);
    assert!(
        screen.find("#end-button").is_some(),
        "hosts can end it for everyone"
    );
}

fn sample_info() -> AppInfo {
    AppInfo {
        name: "Confab".into(),
        version: "9.8.7".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        tauri_version: "2.12.5".into(),
        webview_version: "2.50.6".into(),
    }
}

#[wasm_bindgen_test]
async fn home_screen_shows_both_actions_and_the_backend_version() {
    let screen = app(&MockBackend::new(Ok(sample_info())));
    assert_eq!(
        screen.text("#host-button").as_deref(),
        Some("Host a meeting")
    );
    assert!(screen.find("#join-code").is_some());
    screen
        .wait_until("the app info", |s| {
            s.text("#app-info").is_some_and(|t| t.contains("9.8.7"))
        })
        .await;
    assert_eq!(
        screen.text("#app-info").as_deref(),
        Some("Confab 9.8.7 · linux x86_64 · webview 2.50.6")
    );
}

#[wasm_bindgen_test]
async fn a_failing_backend_is_reported_not_hidden() {
    let failure = CommandError::new(ErrorKind::Webview, "WebKitGTK is missing");
    let screen = app(&MockBackend::new(Err(failure)));
    screen
        .wait_until("the failure", |s| {
            s.text("#app-info")
                .is_some_and(|t| t.contains("WebKitGTK is missing"))
        })
        .await;
}

#[wasm_bindgen_test]
async fn meetings_listed_on_the_lan_are_shown_and_joined_at_their_host() {
    let mock = MockBackend::preview();
    mock.list_nearby(vec![confab_ipc::meeting::NearbyMeeting {
        title: "Open house".into(),
        code: MeetingCode::parse("opn-hous-eee").expect("code"),
        host: "10.0.0.9:7880".into(),
    }]);
    let screen = app(&mock);
    screen
        .wait_until("the nearby meeting", |s| {
            s.text("#nearby-list")
                .is_some_and(|t| t.contains("Open house"))
        })
        .await;
    screen.type_into("#display-name", "Cy");
    screen.click(r#"#nearby-list li[data-code="opn-hous-eee"] button"#);
    screen
        .wait_until("the waiting room", |s| s.find("#waiting").is_some())
        .await;
    let joined = mock.joined().expect("joined");
    assert_eq!(joined.code.as_str(), "opn-hous-eee");
    assert_eq!(joined.host.as_deref(), Some("10.0.0.9:7880"));
    assert_eq!(joined.name, "Cy");
}

#[wasm_bindgen_test]
async fn no_nearby_meetings_shows_no_list() {
    let screen = app(&MockBackend::preview());
    for _ in 0..5 {
        next_task().await;
    }
    assert!(screen.find("#nearby-list").is_none());
}

#[wasm_bindgen_test]
async fn the_name_used_last_time_is_filled_in() {
    let mock = MockBackend::preview();
    mock.remember(confab_ipc::devices::Profile {
        name: Some("Ada".into()),
        ..Default::default()
    });
    let screen = app(&mock);
    screen
        .wait_until("the remembered name", |s| {
            s.get("#display-name")
                .dyn_into::<web_sys::HtmlInputElement>()
                .is_ok_and(|input| input.value() == "Ada")
        })
        .await;
}

#[wasm_bindgen_test]
async fn the_device_check_previews_meters_picks_and_chimes_then_closes() {
    use confab_ipc::devices::DeviceSlot;
    let mock = MockBackend::preview();
    let screen = app(&mock);
    assert!(
        screen.find("#mic-level").is_none(),
        "no device opens before the user asks"
    );
    assert!(!mock.sent().iter().any(|c| c.starts_with("start_preview")));

    mock.set_level(0.7);
    screen.click("#check-devices");
    screen
        .wait_until("the camera's picture", |s| {
            s.find(".preview canvas.video").is_some()
        })
        .await;
    screen
        .wait_until("the level on the meter", |s| {
            s.find("#mic-level")
                .and_then(|meter| meter.get_attribute("value"))
                .is_some_and(|value| value == "0.7")
        })
        .await;
    screen
        .wait_until("the speakers listed", |s| {
            s.count("#pick-speaker option") == 3
        })
        .await;
    let listed = screen.text("#pick-speaker").unwrap_or_default();
    assert!(listed.contains("Preview Speakers (default)"), "{listed}");

    screen.select("#pick-speaker", "headset");
    screen
        .wait_until("the pick sent", |_| {
            mock.sent()
                .iter()
                .any(|c| c == r#"choose_device {"slot":"speaker","id":"headset"}"#)
        })
        .await;
    assert_eq!(
        mock.list_devices().chosen.get(DeviceSlot::Speaker),
        Some("headset")
    );
    let starts = || {
        mock.sent()
            .iter()
            .filter(|c| c.starts_with("start_preview"))
            .count()
    };
    let before = starts();
    screen.select("#pick-camera", "cam");
    screen
        .wait_until("the preview restarted with the new camera", |_| {
            starts() > before
        })
        .await;

    screen.click("#test-sound");
    screen
        .wait_until("the chime asked for", |_| {
            mock.sent().iter().any(|c| c.starts_with("play_test_sound"))
        })
        .await;

    screen.click("#close-check");
    screen
        .wait_until("the check closed", |s| s.find("#check-devices").is_some())
        .await;
    assert!(mock.sent().iter().any(|c| c.starts_with("stop_preview")));
}

#[wasm_bindgen_test]
async fn a_device_that_does_not_open_is_named_and_the_rest_of_the_check_works() {
    let mock = MockBackend::preview();
    mock.answer_preview(confab_ipc::devices::PreviewStarted {
        camera_track: None,
        camera_error: Some("no camera: none connected".into()),
        microphone_error: None,
    });
    let screen = app(&mock);
    screen.click("#check-devices");
    screen
        .wait_until("the camera's error", |s| {
            s.text("#preview-off")
                .is_some_and(|text| text.contains("none connected"))
        })
        .await;
    assert!(screen.find("#mic-level").is_some());
    assert!(screen.find("#microphone-error").is_none());
}

#[wasm_bindgen_test]
async fn an_invitation_link_opened_with_the_app_fills_the_join_form() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    mock.open_invite("confab://join/abc-defg-hij?host=10.0.0.2:7880");
    screen
        .wait_until("the link in the code field", |s| {
            s.get("#join-code")
                .dyn_into::<web_sys::HtmlInputElement>()
                .is_ok_and(|input| input.value() == "confab://join/abc-defg-hij?host=10.0.0.2:7880")
        })
        .await;
    screen.type_into("#display-name", "Bob");
    screen.click("#join-button");
    screen
        .wait_until("the waiting room", |s| s.find("#waiting").is_some())
        .await;
    let joined = mock.joined().expect("joined");
    assert_eq!(joined.host.as_deref(), Some("10.0.0.2:7880"));
}

#[wasm_bindgen_test]
async fn a_recent_meeting_is_joined_again_at_its_host() {
    use confab_ipc::devices::{Profile, RecentMeeting};
    let mock = MockBackend::preview();
    mock.remember(Profile {
        name: Some("Ada".into()),
        recent_meetings: vec![RecentMeeting {
            code: MeetingCode::parse("xyz-wxyz-xyz").expect("code"),
            title: "Standup".into(),
            host: "10.0.0.9:7880".into(),
            joined_at: 0,
        }],
        ..Default::default()
    });
    let screen = app(&mock);
    screen
        .wait_until("the recent meeting", |s| {
            s.text("#recent-list")
                .is_some_and(|t| t.contains("Standup"))
        })
        .await;
    screen.click("#recent-list li[data-code='xyz-wxyz-xyz'] button");
    screen
        .wait_until("the waiting room", |s| s.find("#waiting").is_some())
        .await;
    let joined = mock.joined().expect("joined");
    assert_eq!(joined.code.to_string(), "xyz-wxyz-xyz");
    assert_eq!(joined.host.as_deref(), Some("10.0.0.9:7880"));
    assert_eq!(joined.name, "Ada");
}

#[wasm_bindgen_test]
async fn settings_save_processing_and_video_quality_and_pick_devices() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.click("#settings-button");
    screen
        .wait_until("the settings", |s| s.count("#pick-speaker option") == 3)
        .await;
    let checked = |s: &Mounted, id: &str| {
        s.get(id)
            .dyn_into::<web_sys::HtmlInputElement>()
            .is_ok_and(|input| input.checked())
    };
    screen
        .wait_until("processing on by default", |s| {
            checked(s, "#noise-suppression")
        })
        .await;
    screen.click("#noise-suppression");
    screen
        .wait_until("noise suppression off, saved", |_| {
            mock.sent().iter().any(|c| {
                c.starts_with("set_media_preferences")
                    && c.contains(r#""noiseSuppression":false"#)
                    && c.contains(r#""echoCancellation":true"#)
            })
        })
        .await;
    screen.select("#video-quality", "low");
    screen
        .wait_until("the quality saved", |_| {
            mock.sent().iter().any(|c| {
                c.contains(r#""videoQuality":"low""#) && c.contains(r#""noiseSuppression":false"#)
            })
        })
        .await;
    screen.select("#pick-microphone", "mic");
    screen
        .wait_until("the microphone picked", |_| {
            mock.sent()
                .iter()
                .any(|c| c == r#"choose_device {"slot":"microphone","id":"mic"}"#)
        })
        .await;
    screen.click("#settings-back");
    screen
        .wait_until("home again", |s| s.find("#join-code").is_some())
        .await;
}

#[wasm_bindgen_test]
async fn a_hosting_server_is_saved_with_its_secret_sent_once_shown_without_it_and_removed() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.click("#settings-button");
    screen
        .wait_until("the settings", |s| s.find("#server-url").is_some())
        .await;
    assert!(
        screen.find("#remove-server").is_none(),
        "nothing to remove yet"
    );
    screen.type_into("#server-url", "wss://meet.example.org");
    screen.type_into("#server-key", "APIkey");
    screen.type_into("#server-secret", "the-secret");
    screen.click("#save-server");
    screen
        .wait_until("the server saved", |s| {
            s.text("#server-saved").is_some_and(|text| {
                text.contains("wss://meet.example.org") && text.contains("APIkey")
            })
        })
        .await;
    let sent: Vec<String> = mock
        .sent()
        .into_iter()
        .filter(|c| c.starts_with("set_hosting_server"))
        .collect();
    assert_eq!(
        sent,
        [
            r#"set_hosting_server {"setting":{"url":"wss://meet.example.org","apiKey":"APIkey","apiSecret":"the-secret"}}"#
        ]
    );
    let secret: web_sys::HtmlInputElement = screen.get("#server-secret").unchecked_into();
    assert_eq!(secret.value(), "", "the secret is not shown back");
    assert_eq!(secret.type_(), "password");
    assert!(
        !screen
            .text("main")
            .unwrap_or_default()
            .contains("the-secret"),
        "the page never shows the secret"
    );
    assert!(
        screen
            .text("#server-status")
            .is_some_and(|t| t.contains("keyring"))
    );

    screen.click("#remove-server");
    screen
        .wait_until("the server removed", |s| s.find("#server-saved").is_none())
        .await;
    assert!(
        mock.sent()
            .iter()
            .any(|c| c == r#"set_hosting_server {"setting":null}"#)
    );
}

#[wasm_bindgen_test]
async fn a_refused_hosting_server_says_why() {
    let mock = MockBackend::preview();
    mock.fail(
        "set_hosting_server",
        CommandError {
            kind: ErrorKind::Meeting,
            message: "The server's URL starts with wss://".into(),
        },
    );
    let screen = app(&mock);
    screen.click("#settings-button");
    screen
        .wait_until("the settings", |s| s.find("#server-url").is_some())
        .await;
    screen.type_into("#server-url", "meet.example.org");
    screen.click("#save-server");
    screen
        .wait_until("the refusal", |s| {
            s.text("#server-status")
                .is_some_and(|t| t.contains("wss://"))
        })
        .await;
    assert!(screen.find("#server-saved").is_none());
}

#[wasm_bindgen_test]
async fn with_a_hosting_server_set_up_the_host_picks_where_the_meeting_runs() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    assert!(screen.find("#host-on").is_none(), "no server, no choice");
    drop(screen);

    let mock = MockBackend::preview();
    mock.remember(confab_ipc::devices::Profile {
        hosting_server: Some(confab_ipc::devices::HostingServer {
            url: "wss://meet.example.org".into(),
            api_key: "APIkey".into(),
        }),
        ..Default::default()
    });
    let screen = app(&mock);
    screen
        .wait_until("the choice", |s| {
            s.text("#host-on")
                .is_some_and(|t| t.contains("LiveKit server (wss://meet.example.org)"))
        })
        .await;
    screen.type_into("#display-name", "Ada");
    screen.select("#host-on", "server");
    screen.click("#host-button");
    screen
        .wait_until("the meeting", |s| s.find("#stage").is_some())
        .await;
    assert!(mock.hosted().expect("hosted").on_server);
}

#[wasm_bindgen_test]
async fn global_push_to_talk_is_turned_on_or_says_why_it_cannot_be() {
    let mock = MockBackend::preview();
    let screen = app(&mock);
    screen.click("#settings-button");
    screen
        .wait_until("the settings", |s| s.find("#global-ptt").is_some())
        .await;
    assert!(
        screen
            .text(".sound")
            .is_some_and(|t| t.contains("Ctrl+Alt+Space")),
        "the keys are named"
    );
    screen.click("#global-ptt");
    screen
        .wait_until("turned on", |_| {
            mock.sent()
                .contains(&r#"set_global_push_to_talk {"on":true}"#.to_owned())
        })
        .await;
    assert!(mock.profile().global_push_to_talk);
    screen.click("#global-ptt");
    screen
        .wait_until("turned off", |_| !mock.profile().global_push_to_talk)
        .await;

    mock.fail(
        "set_global_push_to_talk",
        CommandError {
            kind: ErrorKind::Internal,
            message: "Ctrl+Alt+Space is taken by another app.".into(),
        },
    );
    screen.click("#global-ptt");
    screen
        .wait_until("the refusal", |s| {
            s.text("#settings-error")
                .is_some_and(|t| t.contains("taken by another app"))
        })
        .await;
    let checkbox: web_sys::HtmlInputElement = screen.get("#global-ptt").unchecked_into();
    assert!(!checkbox.checked(), "a refused switch shows off");
}
