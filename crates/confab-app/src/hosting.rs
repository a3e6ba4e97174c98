//! "Host a meeting": this app's own SFU and conference API, on the LAN (or on loopback when
//! asked), signing with a key made for this run — guests get their tokens from its API, so
//! nobody else ever needs the key. Or, on a LiveKit server set up in Settings: the conference
//! API (codes, the waiting room) still served here, rooms and media on that server, tokens
//! signed with its API key (guests wait in lobby rooms there).

use std::net::{IpAddr, SocketAddr};

use confab_conference::code::random_hex;
use confab_conference::server::RunningConference;
use confab_conference::{OpenMeeting, Signer};
use confab_discovery::{Advertiser, Interfaces};
use confab_ipc::devices::HostingServer;
use confab_meeting::ConferenceClient;
use confab_sfu::media::sockets::lan_address;
use confab_sfu::{ApiKeys, ConferenceSettings, RunningSfu, SfuConfig};
use livekit_api::access_token::{AccessToken, VideoGrants};

/// The ports a host prefers (LiveKit's), falling back to free ones when taken.
const SIGNAL_PORT: u16 = 7880;
const MEDIA_PORT: u16 = 7882;
/// How many more times a host tries other ports when its own were taken meanwhile.
const PORT_ATTEMPTS: u32 = 3;
const KEY: &str = "confab-app";

#[derive(Debug, thiserror::Error)]
pub enum HostingError {
    #[error("cannot start the meeting server: {0}")]
    Server(#[from] confab_sfu::SfuError),
    #[error("cannot make the meeting server's key: {0}")]
    Key(String),
    #[error(transparent)]
    Client(#[from] confab_meeting::ClientError),
    #[error("cannot serve meetings for the LiveKit server: {0}")]
    Conference(#[from] confab_conference::server::ServeError),
}

/// Where the meetings' rooms and media are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTarget {
    /// This app's own SFU.
    ThisComputer,
    /// A LiveKit server (its URL and API key; the secret is not kept here).
    LiveKit(HostingServer),
}

#[derive(Debug)]
enum Backend {
    Embedded(RunningSfu),
    LiveKit(RunningConference),
}

/// The host while it runs.
#[derive(Debug)]
pub struct Hosting {
    backend: Backend,
    target: HostTarget,
    client: ConferenceClient,
    create_token: String,
    _advertiser: Option<Advertiser>,
}

impl Hosting {
    /// Starts serving meetings on `bind` (all interfaces for the LAN, or one address), rooms
    /// and media on the SFU this starts too.
    pub async fn start(bind: IpAddr) -> Result<Self, HostingError> {
        let secret = random_hex(32);
        let keys = ApiKeys::parse(&format!("{KEY}: {secret}"))
            .map_err(|error| HostingError::Key(error.to_string()))?;
        let advertised = advertised_address(bind);
        let sfu = with_port_retries(|attempt| {
            // The usual ports first; after a failure, whatever is free.
            let media_port = if attempt == 0 { MEDIA_PORT } else { 0 };
            start_sfu(
                bind,
                free_port(bind, SIGNAL_PORT),
                media_port,
                &keys,
                advertised,
            )
        })
        .await?;
        let local = own_address(bind, sfu.local_addr().port());
        let client = ConferenceClient::new(&local.to_string())?;
        let create_token = create_token(KEY, &secret)?;
        let advertiser = sfu.conference().and_then(|conference| {
            advertise(bind, sfu.local_addr().port(), conference.open_meetings())
        });
        tracing::info!(address = %sfu.local_addr(), "hosting meetings");
        Ok(Self {
            backend: Backend::Embedded(sfu),
            target: HostTarget::ThisComputer,
            client,
            create_token,
            _advertiser: advertiser,
        })
    }

    /// Starts serving meetings on `bind` whose rooms and media are on `server`, signing with
    /// its API key and `secret`.
    pub async fn start_on_livekit(
        bind: IpAddr,
        server: &HostingServer,
        secret: &str,
    ) -> Result<Self, HostingError> {
        let advertised = advertised_address(bind);
        let conference = with_port_retries(|_| {
            let port = free_port(bind, SIGNAL_PORT);
            confab_conference::server::start(
                SocketAddr::new(bind, port),
                &server.url,
                Signer::new(server.api_key.as_str(), secret),
                advertised.map(|ip| format!("{ip}:{port}")),
                confab_conference::meeting::HOSTLESS_GRACE,
            )
        })
        .await?;
        let port = conference.local_addr().port();
        let client = ConferenceClient::new(&own_address(bind, port).to_string())?;
        let create_token = create_token(&server.api_key, secret)?;
        let advertiser = advertise(bind, port, conference.conference().open_meetings());
        tracing::info!(address = %conference.local_addr(), server = %server.url, "hosting meetings on a LiveKit server");
        Ok(Self {
            backend: Backend::LiveKit(conference),
            target: HostTarget::LiveKit(server.clone()),
            client,
            create_token,
            _advertiser: advertiser,
        })
    }

    /// Where this host's meetings run.
    pub fn target(&self) -> &HostTarget {
        &self.target
    }

    pub fn client(&self) -> &ConferenceClient {
        &self.client
    }

    pub fn create_token(&self) -> &str {
        &self.create_token
    }

    /// Tells everyone the host is going (`SERVER_SHUTDOWN`) and stops. Meetings on a LiveKit
    /// server stay there until they end; only their conference API stops.
    pub async fn stop(self) {
        match self.backend {
            Backend::Embedded(sfu) => {
                if let Err(error) = sfu.shutdown().await {
                    tracing::warn!(%error, "the meeting server did not stop cleanly");
                }
            }
            Backend::LiveKit(conference) => drop(conference),
        }
    }
}

/// The address others reach what listens on `bind` at: the LAN address when it listens
/// everywhere, else the one address it listens on.
fn advertised_address(bind: IpAddr) -> Option<IpAddr> {
    if bind.is_unspecified() {
        lan_address()
    } else {
        Some(bind)
    }
}

/// Where our own requests reach what listens on `bind`: loopback when it listens everywhere,
/// else the one address it listens on.
fn own_address(bind: IpAddr, port: u16) -> SocketAddr {
    let ip = if bind.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bind
    };
    SocketAddr::new(ip, port)
}

/// The token that lets this app open meetings (`room_create`), signed with `key`'s secret.
fn create_token(key: &str, secret: &str) -> Result<String, HostingError> {
    AccessToken::with_api_key(key, secret)
        .with_identity("confab-app")
        .with_grants(VideoGrants {
            room_create: true,
            ..VideoGrants::default()
        })
        .to_jwt()
        .map_err(|error| HostingError::Key(error.to_string()))
}

/// Tells the LAN (or the one address's network) about open meetings; nothing on loopback.
fn advertise(
    bind: IpAddr,
    port: u16,
    meetings: tokio::sync::watch::Receiver<Vec<OpenMeeting>>,
) -> Option<Advertiser> {
    if bind.is_loopback() {
        return None;
    }
    let interfaces = if bind.is_unspecified() {
        Interfaces::Lan
    } else {
        Interfaces::Only(bind)
    };
    Advertiser::start(interfaces, port, meetings)
        .inspect_err(|error| tracing::warn!(%error, "meetings not advertised"))
        .ok()
}

/// `preferred` when nobody listens on it, else a free port (another app, or another Confab on
/// this computer, may hold LiveKit's usual one).
/// Runs `start(attempt)` for attempt 0, 1, …: a server that cannot start — its ports taken,
/// perhaps between our check and our bind by another host starting at the same moment — is
/// started again (with the ports free then), at most [`PORT_ATTEMPTS`] more times.
async fn with_port_retries<T, E, F>(mut start: impl FnMut(u32) -> F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match start(attempt).await {
            Ok(started) => return Ok(started),
            Err(error) if attempt < PORT_ATTEMPTS => {
                tracing::debug!(%error, attempt, "cannot start the meeting server; trying other ports");
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn free_port(bind: IpAddr, preferred: u16) -> u16 {
    [preferred, 0]
        .into_iter()
        .find_map(|port| {
            std::net::TcpListener::bind(SocketAddr::new(bind, port))
                .and_then(|listener| listener.local_addr())
                .ok()
        })
        .map_or(preferred, |address| address.port())
}

async fn start_sfu(
    bind: IpAddr,
    signal_port: u16,
    media_port: u16,
    keys: &ApiKeys,
    advertised: Option<IpAddr>,
) -> Result<RunningSfu, confab_sfu::SfuError> {
    let mut config = SfuConfig::new(SocketAddr::new(bind, signal_port), keys.clone());
    config.media.udp_port = media_port;
    config.media.node_ip = advertised;
    config.conference = Some(ConferenceSettings {
        // Invitations name the address others reach us at.
        public_address: advertised.map(|ip| format!("{ip}:{signal_port}")),
    });
    confab_sfu::start(config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_taken_meanwhile_is_traded_for_a_free_one() {
        // Held by another program: the first attempt binds it and fails, as a host does when
        // another one took its port between the check and the bind.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let taken_port = taken.local_addr().expect("its address").port();
        let mut tried = Vec::new();
        let bound = with_port_retries(|attempt| {
            let port = if attempt == 0 { taken_port } else { 0 };
            tried.push(port);
            tokio::net::TcpListener::bind(("127.0.0.1", port))
        })
        .await
        .expect("bound to another port");
        assert_ne!(bound.local_addr().expect("its address").port(), taken_port);
        assert_eq!(tried, [taken_port, 0]);
    }

    #[tokio::test]
    async fn starting_gives_up_after_its_attempts() {
        let mut attempts = 0;
        let started: Result<(), String> = with_port_retries(|_| {
            attempts += 1;
            async { Err("taken".to_owned()) }
        })
        .await;
        assert_eq!(started, Err("taken".to_owned()));
        assert_eq!(attempts, PORT_ATTEMPTS + 1);
    }
}
