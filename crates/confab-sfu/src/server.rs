//! Starting and stopping the SFU: binds the listener, serves the routes, and on shutdown tells
//! every participant why before closing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api_keys::ApiKeys;
use crate::auth::Authenticator;
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::ids;
use crate::room::ServerDescription;

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Where signalling and the APIs listen.
    pub listen: SocketAddr,
    pub keys: ApiKeys,
    /// A participant whose signalling connection stays silent this long (clients ping every
    /// few seconds) is considered gone: its network dropped without closing the connection.
    pub signal_timeout: Duration,
}

impl SfuConfig {
    /// Twice the ping timeout clients are told to use.
    pub const DEFAULT_SIGNAL_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(listen: SocketAddr, keys: ApiKeys) -> Self {
        Self {
            listen,
            keys,
            signal_timeout: Self::DEFAULT_SIGNAL_TIMEOUT,
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
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A running SFU. Dropping it without [`RunningSfu::shutdown`] aborts it without goodbyes.
#[derive(Debug)]
pub struct RunningSfu {
    local_addr: SocketAddr,
    hub: Arc<Hub>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
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
    let hub = Arc::new(Hub::new(ServerDescription {
        node_id: ids::node_id(),
    }));
    let router = http::router(AppState {
        hub: hub.clone(),
        auth: Arc::new(Authenticator::new(config.keys)),
        signal_timeout: config.signal_timeout,
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(address = %local_addr, "SFU listening");
    Ok(RunningSfu {
        local_addr,
        hub,
        stop: Some(stop),
        task: Some(task),
    })
}

impl RunningSfu {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every participant receives `leave{SERVER_SHUTDOWN}`, connections close, then the
    /// listener stops.
    pub async fn shutdown(mut self) -> Result<(), SfuError> {
        self.hub.shutdown();
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
    }
}
