//! The conference API on a port of its own, in front of a LiveKit deployment (what `confab
//! server --livekit-url` runs): meetings here, rooms and media on LiveKit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ControlError;
use crate::service::{Conference, ConferenceConfig, WaitingPlace, router, spawn_watch};
use crate::tokens::Signer;
use crate::twirp::TwirpRooms;

/// Meetings on a LiveKit deployment.
pub type LiveKitConference = Conference<TwirpRooms>;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    LiveKit(#[from] ControlError),
}

/// A running conference API. Dropping it stops serving.
#[derive(Debug)]
pub struct RunningConference {
    local_addr: SocketAddr,
    conference: Arc<LiveKitConference>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningConference {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn conference(&self) -> &Arc<LiveKitConference> {
        &self.conference
    }
}

impl Drop for RunningConference {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Serves meetings on `listen` for the LiveKit deployment at `livekit_url` (what clients
/// connect to), signing with its API key. Guests wait in lobby rooms there (see
/// [`WaitingPlace::LobbyRoom`]).
pub async fn start(
    listen: SocketAddr,
    livekit_url: &str,
    signer: Signer,
    public_address: Option<String>,
    hostless_grace: Duration,
) -> Result<RunningConference, ServeError> {
    let control = TwirpRooms::new(livekit_url, signer.clone())?;
    let conference = Arc::new(Conference::new(
        control,
        ConferenceConfig {
            signer,
            room_server_url: Some(livekit_url.to_owned()),
            public_address,
            waiting_place: WaitingPlace::LobbyRoom,
            hostless_grace,
        },
    ));
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        address: listen,
        source,
    })?;
    let service = router(conference.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let serving = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "the conference API stopped");
        }
    });
    let watching = spawn_watch(&conference);
    tracing::info!(address = %local_addr, "conference API listening");
    Ok(RunningConference {
        local_addr,
        conference,
        tasks: vec![serving, watching],
    })
}
