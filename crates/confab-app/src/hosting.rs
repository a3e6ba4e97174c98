//! "Host a meeting": this app's own SFU and conference API, on the LAN (or on loopback when
//! asked), signing with a key made for this run — guests get their tokens from its API, so
//! nobody else ever needs the key.

use std::net::{IpAddr, SocketAddr};

use confab_conference::code::random_hex;
use confab_discovery::{Advertiser, Interfaces};
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
}

/// The embedded host while it runs.
#[derive(Debug)]
pub struct Hosting {
    sfu: RunningSfu,
    client: ConferenceClient,
    create_token: String,
    _advertiser: Option<Advertiser>,
}

impl Hosting {
    /// Starts serving on `bind` (all interfaces for the LAN, or loopback).
    pub async fn start(bind: IpAddr) -> Result<Self, HostingError> {
        let secret = random_hex(32);
        let keys = ApiKeys::parse(&format!("{KEY}: {secret}"))
            .map_err(|error| HostingError::Key(error.to_string()))?;
        let advertised = if bind.is_unspecified() {
            lan_address()
        } else {
            Some(bind)
        };
        let signal_port = free_port(bind, SIGNAL_PORT);
        let sfu = match start_sfu(bind, signal_port, MEDIA_PORT, &keys, advertised).await {
            Ok(sfu) => sfu,
            // Another app (or another Confab) holds the usual media port: any free one does.
            Err(_) => start_sfu(bind, signal_port, 0, &keys, advertised).await?,
        };
        // Our own requests go to loopback when we listen everywhere, else to the one address
        // we listen on.
        let own_address = if bind.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            bind
        };
        let local = SocketAddr::new(own_address, sfu.local_addr().port());
        let client = ConferenceClient::new(&local.to_string())?;
        let create_token = AccessToken::with_api_key(KEY, &secret)
            .with_identity("confab-app")
            .with_grants(VideoGrants {
                room_create: true,
                ..VideoGrants::default()
            })
            .to_jwt()
            .map_err(|error| HostingError::Key(error.to_string()))?;
        let advertiser = match (bind.is_loopback(), sfu.conference()) {
            (false, Some(conference)) => {
                let interfaces = if bind.is_unspecified() {
                    Interfaces::Lan
                } else {
                    Interfaces::Only(bind)
                };
                Advertiser::start(
                    interfaces,
                    sfu.local_addr().port(),
                    conference.open_meetings(),
                )
                .inspect_err(|error| tracing::warn!(%error, "meetings not advertised"))
                .ok()
            }
            _ => None,
        };
        tracing::info!(address = %sfu.local_addr(), "hosting meetings");
        Ok(Self {
            sfu,
            client,
            create_token,
            _advertiser: advertiser,
        })
    }

    pub fn client(&self) -> &ConferenceClient {
        &self.client
    }

    pub fn create_token(&self) -> &str {
        &self.create_token
    }

    /// Tells everyone the host is going (`SERVER_SHUTDOWN`) and stops.
    pub async fn stop(self) {
        if let Err(error) = self.sfu.shutdown().await {
            tracing::warn!(%error, "the meeting server did not stop cleanly");
        }
    }
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
