//! Starting and stopping the SFU: binds the listener, serves the routes, and on shutdown tells
//! every participant why before closing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use confab_conference::meeting::HOSTLESS_GRACE;
use confab_conference::{Conference, ConferenceConfig, Signer, WaitingPlace, spawn_watch};

use crate::api_keys::ApiKeys;
use crate::auth::Authenticator;
use crate::conference::HubRooms;
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::ids;
use crate::media::sockets::{self, MediaSocketError};
use crate::media::{MediaConfig, MediaSockets};
use crate::room::ServerDescription;

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Where signalling and the APIs listen.
    pub listen: SocketAddr,
    pub keys: ApiKeys,
    /// A participant whose signalling connection stays silent this long (clients ping every
    /// few seconds) is considered gone: its network dropped without closing the connection.
    pub signal_timeout: Duration,
    /// How long a participant whose signalling connection dropped is kept for its client to
    /// resume; afterwards it leaves and the client has to join again.
    pub resume_window: Duration,
    pub media: MediaConfig,
    /// Serve the conference API (meetings by code) beside signalling.
    pub conference: Option<ConferenceSettings>,
}

/// The embedded host's conference API.
#[derive(Debug, Clone, Default)]
pub struct ConferenceSettings {
    /// How invitations name this server (`host:port`); None: the address each request came to.
    pub public_address: Option<String>,
}

impl SfuConfig {
    /// Twice the ping timeout clients are told to use.
    pub const DEFAULT_SIGNAL_TIMEOUT: Duration = Duration::from_secs(30);

    /// Media on a free UDP port of the listen address (set `media` for the real port).
    pub fn new(listen: SocketAddr, keys: ApiKeys) -> Self {
        Self {
            listen,
            keys,
            signal_timeout: Self::DEFAULT_SIGNAL_TIMEOUT,
            resume_window: crate::hub::RESUME_WINDOW,
            media: MediaConfig {
                bind: listen.ip(),
                udp_port: 0,
                node_ip: None,
            },
            conference: Some(ConferenceSettings::default()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Media(#[from] MediaSocketError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("the conference API needs an API key to sign its tokens")]
    NoSigningKey,
}

/// The embedded host's meetings.
pub type EmbeddedConference = Conference<HubRooms>;

/// A running SFU. Dropping it without [`RunningSfu::shutdown`] aborts it without goodbyes.
#[derive(Debug)]
pub struct RunningSfu {
    local_addr: SocketAddr,
    media_addr: SocketAddr,
    hub: Arc<Hub>,
    conference: Option<Arc<EmbeddedConference>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    background_tasks: Vec<JoinHandle<()>>,
}

pub async fn start(config: SfuConfig) -> Result<RunningSfu, SfuError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| SfuError::Bind {
            address: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| SfuError::Bind {
        address: config.listen,
        source,
    })?;
    let media = MediaSockets::bind(&config.media).await?;
    let media_addr = media.advertised();
    let signer = config
        .keys
        .first()
        .map(|(key, secret)| Signer::new(key, secret))
        .ok_or(SfuError::NoSigningKey)?;
    let auth = Arc::new(Authenticator::new(config.keys));
    let hub = Arc::new(Hub::new(
        ServerDescription {
            node_id: ids::node_id(),
        },
        auth.clone(),
        media,
        config.resume_window,
    ));
    let mut background_tasks = spawn_media_tasks(&hub);
    background_tasks.push(spawn_sweeper(&hub));
    let mut router = http::router(AppState {
        hub: hub.clone(),
        auth,
        signal_timeout: config.signal_timeout,
    });
    let conference = config.conference.map(|settings| {
        Arc::new(Conference::new(
            HubRooms(hub.clone()),
            ConferenceConfig {
                signer,
                room_server_url: None,
                public_address: settings.public_address,
                waiting_place: WaitingPlace::InRoom,
                hostless_grace: HOSTLESS_GRACE,
            },
        ))
    });
    if let Some(conference) = &conference {
        background_tasks.push(spawn_watch(conference));
        router = router.merge(confab_conference::router(conference.clone()));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(address = %local_addr, media = %media_addr, "SFU listening");
    Ok(RunningSfu {
        local_addr,
        media_addr,
        hub,
        conference,
        stop: Some(stop),
        task: Some(task),
        background_tasks,
    })
}

/// How long a shutdown waits for connections to deliver their goodbyes.
const GOODBYE_LIMIT: Duration = Duration::from_secs(2);

/// How often rooms and participants awaiting a resume are checked against their timeouts.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Ends what timed out: participants not resumed in time, rooms past their timeouts.
fn spawn_sweeper(hub: &Arc<Hub>) -> JoinHandle<()> {
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            ticks.tick().await;
            hub.sweep();
        }
    })
}

/// One task reads the media socket; another runs the media plane's timers.
fn spawn_media_tasks(hub: &Arc<Hub>) -> Vec<JoinHandle<()>> {
    let receiver = {
        let hub = hub.clone();
        let socket = hub.media_sockets().socket();
        tokio::spawn(async move {
            sockets::receive_loop(socket, |source, contents| {
                hub.media_datagram(source, contents);
            })
            .await;
        })
    };
    let timer = {
        let hub = hub.clone();
        tokio::spawn(async move {
            let mut deadline = hub.media_deadline();
            loop {
                let sleep = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                deadline = tokio::select! {
                    () = sleep => hub.media_timeout(),
                    () = hub.media_changed() => hub.media_deadline(),
                };
            }
        })
    };
    vec![receiver, timer]
}

impl RunningSfu {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The media address advertised to clients.
    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }

    /// The meetings hosted here, for in-process use (the desktop app, LAN advertising).
    pub fn conference(&self) -> Option<&Arc<EmbeddedConference>> {
        self.conference.as_ref()
    }

    /// Every participant receives `leave{SERVER_SHUTDOWN}`, connections close, then the
    /// listener stops.
    pub async fn shutdown(mut self) -> Result<(), SfuError> {
        self.hub.shutdown();
        // Upgraded connections are not the listener's to wait for: let each write its leave
        // and close before the process may end.
        self.hub.sessions_ended(GOODBYE_LIMIT).await;
        for task in self.background_tasks.drain(..) {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?.map_err(SfuError::Serve),
            None => Ok(()),
        }
    }
}

impl Drop for RunningSfu {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        for task in &self.background_tasks {
            task.abort();
        }
    }
}
