//! Two instances of the app's logic in one process, as two people on one machine: one hosts
//! (its own SFU and API on loopback), the other joins by code at the invitation's address,
//! waits, is let in, sees the host's camera through the frame channel (the test pattern's
//! counter advancing in the frames a tile would draw), chats, and is told when the host ends
//! the meeting.

use std::time::Duration;

#[path = "shared/apps.rs"]
mod apps;

use apps::{
    DEADLINE, LAYER_DEADLINE, admit_when_knocking, app, counters_advance, open_tile, until,
    until_person,
};
use confab_app::AppCore;
use confab_ipc::devices::{MediaPreferences, VideoQuality};
use confab_ipc::meeting::{
    FrameHeader, HostArgs, JoinArgs, MediaChoice, MeetingUpdate, ParticipantView, TransferState,
};
use confab_meeting::Invite;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Reads a tile's frames until one was decoded at `size` (the layer the server sends).
async fn decoded_at<S>(socket: &mut S, size: (u32, u32))
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut seen = Vec::new();
    // A layer comes after the publisher's next keyframe of it, and encoders on a loaded
    // machine (three meetings at once here) are slow: a generous deadline.
    let reached = tokio::time::timeout(LAYER_DEADLINE, async {
        loop {
            let Some(Ok(Message::Binary(frame))) = socket.next().await else {
                panic!("the frame channel closed");
            };
            let header = FrameHeader::decode(&frame).expect("a whole frame");
            if (header.source_width, header.source_height) == size {
                return;
            }
            if seen.last() != Some(&(header.source_width, header.source_height)) {
                seen.push((header.source_width, header.source_height));
            }
        }
    })
    .await;
    assert!(reached.is_ok(), "never decoded at {size:?}; saw {seen:?}");
}

/// Ada (`host`, starting with `media`) hosts without a waiting room and Bob (`guest`, camera
/// and microphone off) joins at her invitation; returns where Bob's updates go on from once
/// he sees her.
async fn meet_without_waiting(host: &AppCore, guest: &AppCore, media: MediaChoice) -> u64 {
    let info = host
        .host(HostArgs {
            name: "Ada".into(),
            title: "Demo".into(),
            waiting_room: false,
            media,
            on_server: false,
        })
        .await
        .expect("host");
    let invite = Invite::parse(info.invite.as_deref().expect("an invitation")).expect("link");
    guest
        .join(JoinArgs {
            code: invite.code,
            host: invite.host,
            name: "Bob".into(),
            media: MediaChoice::default(),
        })
        .await
        .expect("join");
    let mut guest_next = 0;
    until_person(guest, &mut guest_next, "Ada", "Ada", |_| Some(())).await;
    guest_next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_joins_a_hosting_app_waits_sees_the_camera_chats_and_is_told_the_end() {
    let host = app("ada");
    let guest = app("bob");
    let media = MediaChoice {
        camera: true,
        microphone: true,
    };
    let info = host
        .host(HostArgs {
            name: "Ada".into(),
            title: "Standup".into(),
            waiting_room: true,
            media,
            on_server: false,
        })
        .await
        .expect("host");
    assert!(info.is_host);
    let invite = Invite::parse(info.invite.as_deref().expect("an invitation")).expect("link");
    assert_eq!(invite.code, info.code);

    let joined = guest
        .join(JoinArgs {
            code: invite.code.clone(),
            host: invite.host.clone(),
            name: "Bob".into(),
            media,
        })
        .await
        .expect("join");
    assert!(joined.waiting);
    let recent = guest.profile().recent_meetings;
    assert_eq!(recent.len(), 1, "the meeting is remembered to join again");
    assert_eq!(recent[0].code, invite.code);
    assert_eq!(Some(recent[0].host.clone()), invite.host);
    assert_eq!(recent[0].title, "Standup");
    let (mut host_next, mut guest_next) = (0, 0);
    until(&guest, &mut guest_next, "waiting", |u| {
        matches!(u, MeetingUpdate::Waiting).then_some(())
    })
    .await;
    admit_when_knocking(&host, &mut host_next, &guest, &mut guest_next, "Bob").await;

    // Bob's tile for Ada: her camera's frames on the frame channel, the counter advancing.
    let camera = until_person(&guest, &mut guest_next, "Ada's camera", "Ada", |ada| {
        ada.camera.clone()
    })
    .await;
    let channel = guest.frame_channel().await.expect("frame channel");
    let mut socket = open_tile(&guest, &camera, (640, 360)).await;
    counters_advance(&mut socket, (640, 360)).await;

    // The tile's size picks the simulcast layer the server sends (the smallest that covers
    // it): 640×360 is the medium layer; a full-window tile gets the top one, a thumbnail the
    // bottom one.
    decoded_at(&mut socket, (640, 360)).await;
    socket
        .send(Message::text("1920x1080"))
        .await
        .expect("resize");
    decoded_at(&mut socket, (1280, 720)).await;
    socket.send(Message::text("300x170")).await.expect("resize");
    decoded_at(&mut socket, (320, 180)).await;

    // A wrong token gets no frames.
    let mut forged = channel.clone();
    forged.token = "0".repeat(channel.token.len());
    assert!(
        tokio_tungstenite::connect_async(forged.track_url(&camera, 64, 64))
            .await
            .is_err()
    );

    // Chat both ways, with names.
    guest.send_chat("hi Ada", &[]).await.expect("chat");
    let line = until(&host, &mut host_next, "Bob's chat", |update| match update {
        MeetingUpdate::Chat { line } if line.text == "hi Ada" => Some(line.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line.from_name, "Bob");

    // Bob's reaction shows on his tile at Ada's.
    guest.react("👍").await.expect("react");
    until_person(&host, &mut host_next, "Bob's reaction", "Bob", |bob| {
        bob.reaction
            .clone()
            .filter(|reaction| reaction.emoji == "👍")
    })
    .await;

    // A file from Ada lands in Bob's downloads, progress reported on both sides.
    let outgoing = std::env::temp_dir().join(format!("confab-agenda-{}.bin", std::process::id()));
    let contents: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&outgoing, &contents).expect("write");
    host.send_files(std::slice::from_ref(&outgoing), &[])
        .await
        .expect("send");
    let saved = until(
        &guest,
        &mut guest_next,
        "the file saved",
        |update| match update {
            MeetingUpdate::Transfer { transfer } if !transfer.outgoing => match &transfer.state {
                TransferState::Done { path } => Some((transfer.clone(), path.clone())),
                TransferState::Failed { message } => panic!("receiving failed: {message}"),
                TransferState::Active => None,
            },
            _ => None,
        },
    )
    .await;
    let (transfer, path) = saved;
    assert_eq!(transfer.from_name, "Ada");
    assert_eq!(transfer.bytes, contents.len() as u64);
    let path = path.expect("where it was saved");
    assert_eq!(std::fs::read(&path).expect("read"), contents);
    // Open and Show in folder name the file by its transfer's id, known once it is saved.
    assert_eq!(
        guest.received_file(&transfer.id),
        Some(std::path::PathBuf::from(&path))
    );
    assert_eq!(guest.received_file("no-such-transfer"), None);
    let sent = until(
        &host,
        &mut host_next,
        "the file sent",
        |update| match update {
            MeetingUpdate::Transfer { transfer } if transfer.outgoing => {
                matches!(transfer.state, TransferState::Done { .. }).then(|| transfer.bytes)
            }
            _ => None,
        },
    )
    .await;
    assert_eq!(sent, contents.len() as u64);
    let _ = std::fs::remove_file(&outgoing);

    host.end().await.expect("end");
    let message = until(&guest, &mut guest_next, "the end", |update| match update {
        MeetingUpdate::Ended { message } => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message, "The host ended the meeting");
    host.leave().await.expect("the host's app stops hosting");
}

/// The device check with the test sources: the "camera" reaches a tile through the frame
/// channel under the preview's id (its counter advancing), the "microphone" tone shows on
/// the meter, and hosting closes the check (the meeting takes the devices).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_check_previews_the_camera_and_meters_the_microphone_until_hosting() {
    let app = app("check");
    let listed = app.list_devices().await;
    assert_eq!(listed.cameras.len(), 1, "{listed:?}");
    assert_eq!(listed.cameras[0].name, "Test pattern");

    let started = app.start_preview().await.expect("the check opens");
    assert_eq!(started.camera_error, None);
    assert_eq!(started.microphone_error, None);
    let track = started.camera_track.expect("the camera previews");
    let mut socket = open_tile(&app, &track, (320, 180)).await;
    counters_advance(&mut socket, (320, 180)).await;

    let mut every = tokio::time::interval(Duration::from_millis(50));
    let level = tokio::time::timeout(DEADLINE, async {
        loop {
            every.tick().await;
            let level = app.preview_level().await;
            if level > 0.5 {
                return level;
            }
        }
    })
    .await
    .expect("the tone shows on the meter");
    assert!(level <= 1.0);

    app.host(HostArgs {
        name: "Ada".into(),
        title: "Check".into(),
        waiting_room: false,
        media: MediaChoice::default(),
        on_server: false,
    })
    .await
    .expect("hosted");
    assert_eq!(app.preview_level().await, 0.0, "hosting closed the check");
    assert!(matches!(
        app.start_preview().await,
        Err(confab_app::CoreError::AlreadyInMeeting)
    ));
    app.end().await.expect("ended");
}

/// The host shares the test screen, stops, and shares again: the guest sees the share on
/// Ada's tile (its frames on the frame channel at the screen's own size, the counter
/// advancing), then sees it go, then a new one come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_shares_the_screen_stops_and_shares_again() {
    let host = app("ada-share");
    let guest = app("bob-share");
    assert!(
        !host.in_meeting_now(),
        "outside a meeting the window closes"
    );
    let mut guest_next = meet_without_waiting(&host, &guest, MediaChoice::default()).await;

    // The tray's microphone item: on, then muted again; Bob sees both.
    assert!(
        host.in_meeting_now(),
        "a closing window would hide, not quit"
    );
    assert!(
        host.toggle_microphone().await.expect("toggled"),
        "it was off"
    );
    let microphone_is = |muted: bool| {
        move |ada: &ParticipantView| {
            (ada.microphone.is_some() && ada.microphone_muted == muted).then_some(())
        }
    };
    until_person(
        &guest,
        &mut guest_next,
        "Ada's microphone on",
        "Ada",
        microphone_is(false),
    )
    .await;
    assert!(
        !host.toggle_microphone().await.expect("toggled"),
        "it was on"
    );
    until_person(
        &guest,
        &mut guest_next,
        "Ada's microphone muted",
        "Ada",
        microphone_is(true),
    )
    .await;

    let targets = host.share_targets().await.expect("targets");
    assert_eq!(targets.len(), 1, "{targets:?}");
    let mut shares = Vec::new();
    for _ in 1..=2 {
        host.start_share(&targets[0].id).await.expect("shared");
        let share = until_person(&guest, &mut guest_next, "Ada's share", "Ada", |ada| {
            ada.screen.clone()
        })
        .await;
        let mut socket = open_tile(&guest, &share, (1920, 1080)).await;
        decoded_at(&mut socket, (1920, 1080)).await;
        counters_advance(&mut socket, (1920, 1080)).await;

        host.stop_share().await.expect("stopped");
        until_person(&guest, &mut guest_next, "the share gone", "Ada", |ada| {
            ada.screen.is_none().then_some(())
        })
        .await;
        shares.push(share);
    }
    assert_ne!(shares[0], shares[1]);
    host.end().await.expect("ended");
}

/// A host who chose the lowest video quality sends only the 180p layer: a guest's large tile
/// gets 320×180 frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_video_quality_preference_caps_what_the_camera_sends() {
    let host = app("ada-quality");
    let guest = app("bob-quality");
    host.set_media_preferences(MediaPreferences {
        video_quality: VideoQuality::Low,
        ..MediaPreferences::default()
    })
    .await
    .expect("preferences");
    assert_eq!(host.profile().media.video_quality, VideoQuality::Low);
    let camera_only = MediaChoice {
        camera: true,
        microphone: false,
    };
    let mut guest_next = meet_without_waiting(&host, &guest, camera_only).await;
    let camera = until_person(&guest, &mut guest_next, "Ada's camera", "Ada", |ada| {
        ada.camera.clone()
    })
    .await;
    let mut tile = open_tile(&guest, &camera, (1280, 720)).await;
    decoded_at(&mut tile, (320, 180)).await;
    host.end().await.expect("ended");
}

/// Push-to-talk from outside the page (global keys): held while muted, it turns the
/// microphone on (the guest sees it); let go, it mutes again. Held while already talking, it
/// changes nothing, and letting go does not mute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_talk_talks_while_held_and_only_when_muted() {
    let host = app("ada-ptt");
    let guest = app("bob-ptt");
    let mut guest_next = meet_without_waiting(
        &host,
        &guest,
        MediaChoice {
            camera: false,
            microphone: true,
        },
    )
    .await;
    let ada_muted = |muted: bool| {
        move |ada: &ParticipantView| {
            (ada.microphone.is_some() && ada.microphone_muted == muted).then_some(())
        }
    };
    until_person(
        &guest,
        &mut guest_next,
        "Ada talking",
        "Ada",
        ada_muted(false),
    )
    .await;

    // Already talking: holding and letting go leave the microphone on.
    host.push_to_talk(true).await.expect("pressed");
    host.push_to_talk(false).await.expect("released");
    let on = host.toggle_microphone().await.expect("toggled");
    assert!(
        !on,
        "letting go muted a microphone push-to-talk had not turned on"
    );
    until_person(&guest, &mut guest_next, "Ada muted", "Ada", ada_muted(true)).await;

    host.push_to_talk(true).await.expect("pressed");
    until_person(
        &guest,
        &mut guest_next,
        "Ada talking while held",
        "Ada",
        ada_muted(false),
    )
    .await;
    host.push_to_talk(false).await.expect("released");
    until_person(
        &guest,
        &mut guest_next,
        "Ada muted again",
        "Ada",
        ada_muted(true),
    )
    .await;
    host.end().await.expect("ended");
}
