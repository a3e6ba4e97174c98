//! What the app tests share: an app instance on loopback with the test media, and waits on
//! its updates and on a tile's frames.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use confab_app::media::Sources;
use confab_app::secrets::SecretStore;
use confab_app::{AppCore, CoreOptions};
use confab_ipc::meeting::{FrameHeader, MeetingUpdate, ParticipantView};
use confab_rtc::room::RoomOptions;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

pub const DEADLINE: Duration = Duration::from_secs(20);
pub const LAYER_DEADLINE: Duration = Duration::from_secs(60);

pub fn app(name: &str) -> AppCore {
    app_with(name, None, SecretStore::session())
}

/// An app remembering its settings in `config_dir` (None: nowhere) and keeping secrets in
/// `secrets`.
pub fn app_with(name: &str, config_dir: Option<PathBuf>, secrets: SecretStore) -> AppCore {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let downloads = std::env::temp_dir().join(format!("confab-app-{}-{name}", std::process::id()));
    AppCore::new(loopback_options(
        downloads,
        Sources::Test,
        config_dir,
        secrets,
    ))
}

/// An app's options for a test: hosting and media on loopback, no LAN search.
pub fn loopback_options(
    downloads: PathBuf,
    sources: Sources,
    config_dir: Option<PathBuf>,
    secrets: SecretStore,
) -> CoreOptions {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    CoreOptions {
        host_bind: loopback,
        room: RoomOptions {
            bind_ip: Some(loopback),
            ..RoomOptions::default()
        },
        downloads,
        sources,
        discovery: None,
        config_dir,
        secrets,
    }
}

/// Reads `app`'s updates from `next` until `pick` finds something; returns it and where to
/// read on from.
pub async fn until<T>(
    app: &AppCore,
    next: &mut u64,
    what: &str,
    mut pick: impl FnMut(&MeetingUpdate) -> Option<T>,
) -> T {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let batch = app.updates(*next).await;
            *next = batch.next;
            for update in batch.updates {
                if let Some(found) = pick(&update) {
                    return found;
                }
                seen.push(update);
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}; saw {seen:#?}"))
}

pub type Tile =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A tile of `app` showing `track` at `size` on the frame channel.
pub async fn open_tile(app: &AppCore, track: &str, size: (u32, u32)) -> Tile {
    let channel = app.frame_channel().await.expect("frame channel");
    let (socket, _) = tokio_tungstenite::connect_async(channel.track_url(track, size.0, size.1))
        .await
        .expect("the tile connects");
    socket
}

/// Reads a tile's frames until three carry stamps, which must advance; each frame fits the
/// tile's `size`.
pub async fn counters_advance(tile: &mut Tile, size: (u32, u32)) {
    let mut counters = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while counters.len() < 3 {
            let Some(Ok(Message::Binary(frame))) = tile.next().await else {
                panic!("the frame channel closed");
            };
            let header = FrameHeader::decode(&frame).expect("a whole frame");
            assert!(
                header.width <= size.0 && header.height <= size.1,
                "{header:?}"
            );
            counters.extend(header.counter);
        }
    })
    .await
    .expect("stamped frames within the deadline");
    assert!(
        counters.windows(2).all(|pair| pair[0] < pair[1]),
        "{counters:?}"
    );
}

/// Reads `app`'s updates until `pick` finds what it waits for in the person called `name`.
pub async fn until_person<T>(
    app: &AppCore,
    next: &mut u64,
    what: &str,
    name: &str,
    mut pick: impl FnMut(&ParticipantView) -> Option<T>,
) -> T {
    until(app, next, what, |update| match update {
        MeetingUpdate::Participants { participants } => {
            someone(participants, name).and_then(&mut pick)
        }
        _ => None,
    })
    .await
}

pub fn someone<'a>(participants: &'a [ParticipantView], name: &str) -> Option<&'a ParticipantView> {
    participants.iter().find(|p| p.name == name)
}

/// The host lets the waiting guest called `name` in once they knock; returns when the guest
/// hears it. `host_next` and `guest_next` are where each app's updates are read on from.
pub async fn admit_when_knocking(
    host: &AppCore,
    host_next: &mut u64,
    guest: &AppCore,
    guest_next: &mut u64,
    name: &str,
) {
    let identity = until(
        host,
        host_next,
        &format!("{name} knocking"),
        |update| match update {
            MeetingUpdate::WaitingRoom { guests, .. } => guests
                .iter()
                .find(|guest| guest.name == name)
                .map(|guest| guest.identity.clone()),
            _ => None,
        },
    )
    .await;
    host.admit(Some(&identity)).await.expect("admit");
    until(guest, guest_next, "admission", |update| {
        matches!(update, MeetingUpdate::Admitted).then_some(())
    })
    .await;
}
