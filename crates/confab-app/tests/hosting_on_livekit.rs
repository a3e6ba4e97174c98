//! Hosting on a LiveKit server set up in Settings: its URL and API key in the profile, its
//! secret in a real Secret Service (GNOME Keyring on a private bus), never in the app's files.
//! An app restarted with that profile hosts on a real `livekit-server`: a guest joins by the
//! code at the host's address, waits in the meeting's lobby room there, is let in, and sees
//! the host's camera.

#[path = "shared/apps.rs"]
mod apps;
#[path = "shared/keyring.rs"]
mod keyring;
#[path = "../../confab-rtc/tests/common/livekit.rs"]
mod livekit;

use apps::{admit_when_knocking, app, app_with, counters_advance, open_tile, until_person};
use confab_ipc::devices::{HostingServer, HostingServerSetting};
use confab_ipc::meeting::{HostArgs, JoinArgs, MediaChoice};
use confab_meeting::Invite;
use keyring::PrivateKeyring;
use livekit::{DEV_KEY, DEV_SECRET, LiveKitServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_hosts_on_a_livekit_server_with_its_secret_in_the_keyring() {
    let server = LiveKitServer::start();
    let keyring = PrivateKeyring::start("hosting").await;
    let config = std::env::temp_dir().join(format!("confab-lk-host-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config);

    // Settings: a wrong URL is refused; the server is saved, the secret goes to the keyring.
    let setup = app_with("ada-setup", Some(config.clone()), keyring.store());
    let refused = setup
        .set_hosting_server(Some(HostingServerSetting {
            url: "livekit.example".into(),
            api_key: DEV_KEY.into(),
            api_secret: DEV_SECRET.into(),
        }))
        .await
        .expect_err("not a URL");
    assert!(refused.to_string().contains("wss://"), "{refused}");
    let profile = setup
        .set_hosting_server(Some(HostingServerSetting {
            url: server.url.clone(),
            api_key: DEV_KEY.into(),
            api_secret: DEV_SECRET.into(),
        }))
        .await
        .expect("saved");
    let saved = HostingServer {
        url: server.url.clone(),
        api_key: DEV_KEY.into(),
    };
    assert_eq!(profile.hosting_server.as_ref(), Some(&saved));
    drop(setup);
    for entry in std::fs::read_dir(&config).expect("config folder") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.contains(DEV_SECRET),
            "{} holds the secret",
            path.display()
        );
    }
    assert_eq!(
        keyring
            .store()
            .load(&saved.account())
            .await
            .expect("keyring"),
        Some(DEV_SECRET.to_owned())
    );

    // The restarted app hosts there.
    let host = app_with("ada", Some(config.clone()), keyring.store());
    let guest = app("bob");
    let media = MediaChoice {
        camera: true,
        microphone: false,
    };
    let info = host
        .host(HostArgs {
            name: "Ada".into(),
            title: "On LiveKit".into(),
            waiting_room: true,
            media,
            on_server: true,
        })
        .await
        .expect("hosted on the LiveKit server");
    let invite = Invite::parse(info.invite.as_deref().expect("an invitation")).expect("link");
    let joined = guest
        .join(JoinArgs {
            code: invite.code.clone(),
            host: invite.host.clone(),
            name: "Bob".into(),
            media: MediaChoice::default(),
        })
        .await
        .expect("join");
    assert!(joined.waiting);
    let (mut host_next, mut guest_next) = (0, 0);
    admit_when_knocking(&host, &mut host_next, &guest, &mut guest_next, "Bob").await;
    let camera = until_person(&guest, &mut guest_next, "Ada's camera", "Ada", |ada| {
        ada.camera.clone()
    })
    .await;
    let mut tile = open_tile(&guest, &camera, (640, 360)).await;
    counters_advance(&mut tile, (640, 360)).await;

    host.end().await.expect("ended");
    let _ = std::fs::remove_dir_all(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosting_on_a_server_whose_secret_is_gone_says_what_to_do() {
    let keyring = PrivateKeyring::start("gone").await;
    let config = std::env::temp_dir().join(format!("confab-lk-gone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config);
    let app = app_with("ada", Some(config.clone()), keyring.store());
    app.set_hosting_server(Some(HostingServerSetting {
        url: "wss://livekit.example".into(),
        api_key: "key".into(),
        api_secret: "secret".into(),
    }))
    .await
    .expect("saved");
    keyring
        .store()
        .delete("key@wss://livekit.example")
        .await
        .expect("removed behind the app's back");
    let error = app
        .host(HostArgs {
            name: "Ada".into(),
            title: String::new(),
            waiting_room: true,
            media: MediaChoice::default(),
            on_server: true,
        })
        .await
        .expect_err("no secret");
    assert!(
        error.to_string().contains("enter it again in Settings"),
        "{error}"
    );
    // Forgetting the server leaves nothing behind.
    let profile = app.set_hosting_server(None).await.expect("forgotten");
    assert_eq!(profile.hosting_server, None);
    let _ = std::fs::remove_dir_all(&config);
}
