//! Component tests for the waiting room, the meeting and its end, in headless Chromium: the
//! real components fed scripted meeting updates by a mock backend; the assertions read the DOM
//! and the commands the UI sent.
#![cfg(target_arch = "wasm32")]

mod common;

use common::Mounted;
use confab_ipc::MeetingCode;
use confab_ipc::meeting::{
    ChatLine, MeetingInfo, MeetingUpdate, ParticipantView, Quality, ReactionView, WaitingGuestView,
};
use confab_ui::App;
use confab_ui::ipc::Backend;
use confab_ui::ipc::mock::MockBackend;
use leptos::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn info(is_host: bool, waiting: bool) -> MeetingInfo {
    MeetingInfo {
        code: MeetingCode::parse("abc-defg-hij").expect("code"),
        title: "Standup".into(),
        invite: is_host.then(|| "confab://join/abc-defg-hij?host=127.0.0.1:7880".into()),
        identity: "me".into(),
        is_host,
        waiting,
    }
}

fn person(identity: &str, name: &str) -> ParticipantView {
    ParticipantView {
        identity: identity.into(),
        name: name.into(),
        is_local: identity == "me",
        ..ParticipantView::default()
    }
}

/// The app, past the home screen: hosting (`is_host`) or joining a meeting.
async fn in_meeting(mock: &MockBackend, is_host: bool, waiting: bool) -> Mounted {
    mock.answer_meeting(Ok(info(is_host, waiting)));
    let backend = Backend::Mock(mock.clone());
    let screen = Mounted::new(move || view! { <App backend /> }.into_any());
    screen.type_into("#join-code", "abc-defg-hij");
    screen.click(if is_host {
        "#host-button"
    } else {
        "#join-button"
    });
    let target = if waiting { "#waiting" } else { "#stage" };
    screen
        .wait_until("the meeting to open", |s| s.find(target).is_some())
        .await;
    screen
}

#[wasm_bindgen_test]
async fn a_waiting_guest_sees_the_waiting_room_then_the_meeting_when_admitted() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, true).await;
    assert!(
        screen
            .text("#waiting")
            .is_some_and(|t| t.contains("Waiting for the host to let you in"))
    );
    mock.push_update(MeetingUpdate::Waiting);
    mock.push_update(MeetingUpdate::Admitted);
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Bob"), person("host-1", "Ada")],
    });
    screen
        .wait_until("two tiles", |s| s.count("#stage .tile") == 2)
        .await;
    assert!(
        screen
            .text("#stage")
            .is_some_and(|t| t.contains("Bob (you)") && t.contains("Ada"))
    );
    assert!(
        screen.find("#end-button").is_none(),
        "guests cannot end the meeting"
    );
}

#[wasm_bindgen_test]
async fn cancelling_the_wait_leaves() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, true).await;
    screen.click("#cancel-waiting");
    screen
        .wait_until("the leave command", |_| {
            mock.sent().iter().any(|c| c.starts_with("leave_meeting"))
        })
        .await;
}

#[wasm_bindgen_test]
async fn a_denied_guest_is_told_and_can_go_back() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, true).await;
    mock.push_update(MeetingUpdate::Ended {
        message: "The host didn't let you in".into(),
    });
    screen
        .wait_until("the end", |s| s.find("#ended-message").is_some())
        .await;
    assert_eq!(
        screen.text("#ended-message").as_deref(),
        Some("The host didn't let you in")
    );
    screen.click("#home-button");
    screen
        .wait_until("the home screen", |s| s.find("#join-code").is_some())
        .await;
}

#[wasm_bindgen_test]
async fn chat_shows_lines_and_sends_to_everyone_or_privately() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Bob"), person("host-1", "Ada")],
    });
    mock.push_update(MeetingUpdate::Chat {
        line: ChatLine {
            id: "1".into(),
            from: "host-1".into(),
            from_name: "Ada".into(),
            text: "welcome".into(),
            private: false,
            timestamp: 0,
        },
    });
    screen.click("#chat-button");
    screen
        .wait_until("the chat line", |s| {
            s.text("#chat-log").is_some_and(|t| t.contains("welcome"))
        })
        .await;
    assert!(screen.text("#chat-log").is_some_and(|t| t.contains("Ada")));
    screen.type_into("#chat-input", "hello all");
    screen.click("#chat-send");
    screen
        .wait_until("the chat command", |_| {
            mock.sent().iter().any(|c| c.contains("hello all"))
        })
        .await;
    screen
        .wait_until("Ada in the recipients", |s| s.count("#chat-to option") == 2)
        .await;
    screen.select("#chat-to", "host-1");
    screen.type_into("#chat-input", "just you");
    screen.click("#chat-send");
    screen
        .wait_until("the private chat", |_| {
            mock.sent()
                .iter()
                .any(|c| c.contains("just you") && c.contains(r#""to":["host-1"]"#))
        })
        .await;
    let sent = mock.sent();
    let public = sent.iter().find(|c| c.contains("hello all")).expect("sent");
    assert!(
        public.starts_with("send_chat") && public.contains(r#""to":[]"#),
        "{public}"
    );
}

#[wasm_bindgen_test]
async fn a_host_admits_and_denies_from_the_waiting_list_and_mutes_and_removes() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, true, false).await;
    let mut bob = person("guest-2", "Bob");
    bob.microphone = Some("TR_mic".into());
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Ada"), bob],
    });
    mock.push_update(MeetingUpdate::WaitingRoom {
        guests: vec![
            WaitingGuestView {
                identity: "guest-3".into(),
                name: "Cy".into(),
                waiting_seconds: 4,
            },
            WaitingGuestView {
                identity: "guest-4".into(),
                name: "Mallory".into(),
                waiting_seconds: 2,
            },
        ],
        locked: false,
        waiting_room: true,
    });
    screen
        .wait_until("the waiting count", |s| {
            s.text("#people-button")
                .is_some_and(|t| t.contains("2 waiting"))
        })
        .await;
    screen.click("#people-button");
    screen
        .wait_until("the waiting list", |s| s.count("#waiting-list li") == 2)
        .await;
    screen.click(r#"#waiting-list li[data-identity="guest-3"] .admit"#);
    screen.click(r#"#waiting-list li[data-identity="guest-4"] .deny"#);
    screen.click(r#"#people-list li[data-identity="guest-2"] .mute"#);
    screen.click(r#"#people-list li[data-identity="guest-2"] .remove"#);
    screen
        .wait_until("four commands", |_| mock.sent().len() >= 4)
        .await;
    let sent = mock.sent();
    assert!(
        sent.contains(&r#"admit_guest {"identity":"guest-3"}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&r#"deny_guest {"identity":"guest-4"}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&r#"mute_participant {"identity":"guest-2","track":"TR_mic"}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&r#"remove_participant {"identity":"guest-2"}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        screen
            .find(r#"#people-list li[data-identity="me"] .remove"#)
            .is_none(),
        "no controls on yourself"
    );
}

#[wasm_bindgen_test]
async fn controls_toggle_the_microphone_camera_and_hand() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let mut me = person("me", "Bob");
    me.microphone = Some("TR_mic".into());
    me.camera = None;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![me],
    });
    screen
        .wait_until("our tile", |s| s.count("#stage .tile") == 1)
        .await;
    assert_eq!(screen.text("#mic-button").as_deref(), Some("Mute"));
    assert_eq!(
        screen.text("#camera-button").as_deref(),
        Some("Start video")
    );
    screen.click("#mic-button");
    screen.click("#camera-button");
    screen.click("#hand-button");
    screen
        .wait_until("three commands", |_| mock.sent().len() >= 3)
        .await;
    let sent = mock.sent();
    assert!(
        sent.contains(&r#"set_microphone {"on":false}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&r#"set_camera {"on":true}"#.to_owned()),
        "{sent:?}"
    );
    assert!(
        sent.contains(&r#"raise_hand {"raised":true}"#.to_owned()),
        "{sent:?}"
    );
}

#[wasm_bindgen_test]
async fn reconnecting_is_shown_and_cleared() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    mock.push_update(MeetingUpdate::Reconnecting { reconnecting: true });
    screen
        .wait_until("the banner", |s| s.find("#reconnecting").is_some())
        .await;
    mock.push_update(MeetingUpdate::Reconnecting {
        reconnecting: false,
    });
    screen
        .wait_until("the banner to go", |s| s.find("#reconnecting").is_none())
        .await;
}

/// A key pressed (or released) on the page, as the keyboard would send it.
fn key(kind: &str, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    let event =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict(kind, &init).expect("event");
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
        .expect("body")
        .dispatch_event(&event)
        .expect("dispatch");
}

#[wasm_bindgen_test]
async fn m_and_v_toggle_and_space_talks_while_held() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let mut me = person("me", "Bob");
    me.microphone = Some("TR_mic".into());
    me.microphone_muted = true;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![me],
    });
    screen
        .wait_until("our tile", |s| s.count("#stage .tile") == 1)
        .await;
    key("keydown", "m");
    key("keydown", "v");
    key("keydown", " ");
    key("keyup", " ");
    screen
        .wait_until("four commands", |_| mock.sent().len() >= 4)
        .await;
    assert_eq!(
        mock.sent(),
        [
            r#"set_microphone {"on":true}"#,
            r#"set_camera {"on":true}"#,
            r#"set_microphone {"on":true}"#,
            r#"set_microphone {"on":false}"#,
        ]
    );
    // Typing in the chat box is text, not shortcuts.
    screen.click("#chat-button");
    screen
        .wait_until("the chat box", |s| s.find("#chat-input").is_some())
        .await;
    let input = screen.get("#chat-input");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("m");
    init.set_bubbles(true);
    let typed =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("event");
    input.dispatch_event(&typed).expect("dispatch");
    for _ in 0..5 {
        common::next_task().await;
    }
    assert_eq!(mock.sent().len(), 4, "{:?}", mock.sent());
}

#[wasm_bindgen_test]
async fn transfers_show_their_progress_an_outgoing_one_can_be_cancelled_and_a_received_one_opened()
{
    use confab_ipc::meeting::{TransferState, TransferView};
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let mut sending = TransferView {
        id: "s1".into(),
        name: "slides.pdf".into(),
        from_name: "Bob".into(),
        outgoing: true,
        bytes: 250,
        total: Some(1000),
        state: TransferState::Active,
    };
    mock.push_update(MeetingUpdate::Transfer {
        transfer: sending.clone(),
    });
    mock.push_update(MeetingUpdate::Transfer {
        transfer: TransferView {
            id: "r1".into(),
            name: "notes.txt".into(),
            from_name: "Ada".into(),
            outgoing: false,
            bytes: 12,
            total: Some(12),
            state: TransferState::Done {
                path: Some("/home/bob/Downloads/notes.txt".into()),
            },
        },
    });
    screen.click("#chat-button");
    screen
        .wait_until("both transfers", |s| s.count("#transfers li") == 2)
        .await;
    let listed = screen.text("#transfers").expect("transfers");
    assert!(
        listed.contains("You are sending slides.pdf") && listed.contains("25 %"),
        "{listed}"
    );
    assert!(
        listed.contains("notes.txt from Ada")
            && listed.contains("Saved to /home/bob/Downloads/notes.txt"),
        "{listed}"
    );
    screen.click(r#"#transfers li[data-id="s1"] .cancel"#);
    screen
        .wait_until("the cancel command", |_| {
            mock.sent().iter().any(|c| c.starts_with("cancel_transfer"))
        })
        .await;
    assert!(
        mock.sent()
            .contains(&r#"cancel_transfer {"id":"s1"}"#.to_owned())
    );
    assert!(
        screen
            .find(r#"#transfers li[data-id="s1"] .open-file"#)
            .is_none(),
        "nothing to open in a file we send"
    );
    screen.click(r#"#transfers li[data-id="r1"] .open-file"#);
    screen.click(r#"#transfers li[data-id="r1"] .show-file"#);
    screen
        .wait_until("open and show asked for by id", |_| {
            let sent = mock.sent();
            sent.contains(&r#"open_received_file {"id":"r1"}"#.to_owned())
                && sent.contains(&r#"show_received_file {"id":"r1"}"#.to_owned())
        })
        .await;
    // Progress replaces the line, it does not add one.
    sending.bytes = 1000;
    sending.state = TransferState::Done { path: None };
    mock.push_update(MeetingUpdate::Transfer { transfer: sending });
    screen
        .wait_until("the transfer sent", |s| {
            s.text("#transfers").is_some_and(|t| t.contains("Sent"))
        })
        .await;
    assert_eq!(screen.count("#transfers li"), 2);
}

/// The identity of the speaker layout's large tile.
fn focused(screen: &Mounted) -> Option<String> {
    screen
        .find("#stage.speaker .tile.focus")
        .and_then(|tile| tile.get_attribute("data-identity"))
}

#[wasm_bindgen_test]
async fn the_speaker_layout_follows_who_spoke_last_unless_someone_is_pinned() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let everyone = |speaking: Option<&str>| {
        let mut people = vec![
            person("me", "Me"),
            person("ada", "Ada"),
            person("bob", "Bob"),
        ];
        for p in &mut people {
            p.speaking = Some(p.identity.as_str()) == speaking;
        }
        MeetingUpdate::Participants {
            participants: people,
        }
    };
    mock.push_update(everyone(None));
    screen
        .wait_until("three tiles", |s| s.count("#stage .tile") == 3)
        .await;
    assert!(
        screen.find(".tile.focus").is_none(),
        "the grid has no large tile"
    );

    screen.click("#layout-button");
    screen
        .wait_until("the first other person large", |s| {
            focused(s).as_deref() == Some("ada")
        })
        .await;
    assert_eq!(screen.text("#layout-button").as_deref(), Some("Grid view"));

    mock.push_update(everyone(Some("bob")));
    screen
        .wait_until("Bob large once he speaks", |s| {
            focused(s).as_deref() == Some("bob")
        })
        .await;
    // He stops; he stays large until someone else speaks.
    mock.push_update(everyone(None));
    screen.click(".tile[data-identity='ada'] .pin");
    screen
        .wait_until("Ada pinned large", |s| focused(s).as_deref() == Some("ada"))
        .await;
    mock.push_update(everyone(Some("bob")));
    screen
        .wait_until("the update shown", |s| s.find(".tile.speaking").is_some())
        .await;
    assert_eq!(
        focused(&screen).as_deref(),
        Some("ada"),
        "a pin holds while others speak"
    );
    assert_eq!(
        screen
            .get(".tile[data-identity='ada'] .pin")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );

    screen.click(".tile[data-identity='ada'] .pin");
    screen
        .wait_until("unpinned: the last speaker again", |s| {
            focused(s).as_deref() == Some("bob")
        })
        .await;
    screen.click("#layout-button");
    screen
        .wait_until("the grid again", |s| s.find("#stage.speaker").is_none())
        .await;
}

#[wasm_bindgen_test]
async fn pinning_in_the_grid_switches_to_the_speaker_layout() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![
            person("me", "Me"),
            person("ada", "Ada"),
            person("bob", "Bob"),
        ],
    });
    screen
        .wait_until("three tiles", |s| s.count("#stage .tile") == 3)
        .await;
    screen.click(".tile[data-identity='bob'] .pin");
    screen
        .wait_until("Bob large", |s| focused(s).as_deref() == Some("bob"))
        .await;
}

#[wasm_bindgen_test]
async fn a_poor_connection_is_shown_on_the_tile_and_a_good_one_is_not() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let mut ada = person("ada", "Ada");
    ada.quality = Quality::Poor;
    let mut me = person("me", "Me");
    me.quality = Quality::Excellent;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![me, ada],
    });
    screen
        .wait_until("Ada's warning", |s| {
            s.text(".tile[data-identity='ada'] .quality")
                .is_some_and(|text| text == "Poor connection")
        })
        .await;
    assert!(screen.find(".tile[data-identity='me'] .quality").is_none());
}

#[wasm_bindgen_test]
async fn sharing_picks_a_screen_or_window_and_stops() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Me"), person("ada", "Ada")],
    });
    screen
        .wait_until("two tiles", |s| s.count("#stage .tile") == 2)
        .await;
    screen.click("#share-button");
    screen
        .wait_until("the picker", |s| {
            s.count("#share-picker .share-target") == 2
        })
        .await;
    let listed = screen.text("#share-picker").unwrap_or_default();
    assert!(
        listed.contains("Entire screen") && listed.contains("Slides"),
        "{listed}"
    );
    screen.click("#share-picker .share-target[data-id='window:0x400001']");
    screen
        .wait_until("the share asked for", |_| {
            mock.sent()
                .iter()
                .any(|c| c == r#"start_share {"id":"window:0x400001"}"#)
        })
        .await;
    assert!(
        screen.find("#share-picker").is_none(),
        "picking closes the picker"
    );

    let mut me = person("me", "Me");
    me.screen = Some("TR_screen".into());
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![me, person("ada", "Ada")],
    });
    screen
        .wait_until("the button offers to stop", |s| {
            s.text("#share-button").as_deref() == Some("Stop sharing")
        })
        .await;
    screen.click("#share-button");
    screen
        .wait_until("the stop asked for", |_| {
            mock.sent().iter().any(|c| c.starts_with("stop_share"))
        })
        .await;
}

#[wasm_bindgen_test]
async fn someone_sharing_takes_the_large_tile() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    let mut bob = person("bob", "Bob");
    bob.screen = Some("TR_bob_screen".into());
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Me"), person("ada", "Ada"), bob],
    });
    screen
        .wait_until("three tiles", |s| s.count("#stage .tile") == 3)
        .await;
    screen.click("#layout-button");
    screen
        .wait_until("Bob's share large", |s| {
            focused(s).as_deref() == Some("bob")
        })
        .await;
}

#[wasm_bindgen_test]
async fn reactions_are_sent_and_a_fresh_one_shows_on_its_tile_but_an_old_one_does_not() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    screen.click("#react-button");
    screen
        .wait_until("the reactions", |s| s.count("#reaction-picker button") == 6)
        .await;
    screen.click("#reaction-picker button[data-emoji='🎉']");
    screen
        .wait_until("the reaction sent", |_| {
            mock.sent().iter().any(|c| c == r#"react {"emoji":"🎉"}"#)
        })
        .await;
    assert!(
        screen.find("#reaction-picker").is_none(),
        "picking closes the row"
    );

    let now = js_sys::Date::now() as i64;
    let mut ada = person("ada", "Ada");
    ada.reaction = Some(ReactionView {
        emoji: "👏".into(),
        seen_at: now,
    });
    let mut bob = person("bob", "Bob");
    bob.reaction = Some(ReactionView {
        emoji: "😮".into(),
        seen_at: now - 60_000,
    });
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Me"), ada, bob],
    });
    screen
        .wait_until("Ada's applause", |s| {
            s.text(".tile[data-identity='ada'] .reaction").as_deref() == Some("👏")
        })
        .await;
    assert!(
        screen
            .find(".tile[data-identity='bob'] .reaction")
            .is_none(),
        "a minute-old reaction is not shown again"
    );
}

#[wasm_bindgen_test]
async fn attach_sends_files_to_everyone_or_to_the_person_picked() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    mock.push_update(MeetingUpdate::Participants {
        participants: vec![person("me", "Me"), person("ada", "Ada")],
    });
    screen.click("#chat-button");
    screen
        .wait_until("Ada in the recipients", |s| s.count("#chat-to option") == 2)
        .await;
    screen.click("#attach-button");
    screen
        .wait_until("files for everyone", |_| {
            mock.sent().iter().any(|c| c == r#"attach_files {"to":[]}"#)
        })
        .await;
    screen.select("#chat-to", "ada");
    screen.click("#attach-button");
    screen
        .wait_until("files for Ada only", |_| {
            mock.sent()
                .iter()
                .any(|c| c == r#"attach_files {"to":["ada"]}"#)
        })
        .await;
}

#[wasm_bindgen_test]
async fn devices_are_switched_during_the_meeting() {
    let mock = MockBackend::preview();
    let screen = in_meeting(&mock, false, false).await;
    screen.click("#devices-button");
    screen
        .wait_until("the pickers", |s| {
            s.count("#device-pickers #pick-speaker option") == 3
        })
        .await;
    screen.select("#device-pickers #pick-speaker", "headset");
    screen
        .wait_until("the switch asked for", |_| {
            mock.sent()
                .iter()
                .any(|c| c == r#"choose_device {"slot":"speaker","id":"headset"}"#)
        })
        .await;
    screen.click("#devices-button");
    screen
        .wait_until("the pickers closed", |s| {
            s.find("#device-pickers").is_none()
        })
        .await;
}
