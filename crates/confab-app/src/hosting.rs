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
        let signal_port = free_port(bind, SIGNAL_PORT);
        let sfu = match start_sfu(bind, signal_port, MEDIA_PORT, &keys, advertised).await {
            Ok(sfu) => sfu,
            // Another app (or another Confab) holds the usual media port: any free one does.
            Err(_) => start_sfu(bind, signal_port, 0, &keys, advertised).await?,
        };
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
        let port = free_port(bind, SIGNAL_PORT);
        let advertised = advertised_address(bind);
        let conference = confab_conference::server::start(
            SocketAddr::new(bind, port),
            &server.url,
            Signer::new(server.api_key.as_str(), secret),
            advertised.map(|ip| format!("{ip}:{port}")),
            confab_conference::meeting::HOSTLESS_GRACE,
        )
        .await?;
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
