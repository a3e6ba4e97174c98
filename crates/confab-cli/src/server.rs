//! `confab server`: hosts meetings without a display until Ctrl-C (or SIGTERM), then tells every
//! participant the server is shutting down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use confab_conference::Signer;
use confab_discovery::{Advertiser, Interfaces};
use confab_sfu::{ApiKeys, ApiKeysError, ConferenceSettings, MediaConfig, SfuConfig, SfuError};

use crate::cli::ServerArgs;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid --keys: {0}")]
    Keys(#[from] ApiKeysError),
    #[error("pass --dev for local testing, or --keys \"key: secret\" (or CONFAB_KEYS)")]
    NoKeys,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
    #[error(transparent)]
    Sfu(#[from] SfuError),
    #[error(transparent)]
    Conference(#[from] confab_conference::server::ServeError),
    #[error(
        "--livekit-url needs --api-key and --api-secret (or LIVEKIT_API_KEY and LIVEKIT_API_SECRET)"
    )]
    NoLiveKitKey,
}

/// The API keys this server accepts, from `--dev` or `--keys`.
pub fn api_keys(args: &ServerArgs) -> Result<ApiKeys, ServerError> {
    match (&args.keys, args.dev) {
        (Some(text), _) => Ok(ApiKeys::parse(text)?),
        (None, true) => Ok(ApiKeys::dev()),
        (None, false) => Err(ServerError::NoKeys),
    }
}

/// `--bind` and `--port`; without `--bind` the server serves the LAN (all interfaces).
pub fn listen_address(args: &ServerArgs) -> SocketAddr {
    let ip = args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    SocketAddr::new(ip, args.port)
}

/// Media on `--udp-port` of the listen address, advertised as `--node-ip` when given.
pub fn media_config(args: &ServerArgs) -> MediaConfig {
    MediaConfig {
        bind: listen_address(args).ip(),
        udp_port: args.udp_port,
        node_ip: args.node_ip,
    }
}

pub fn run(args: &ServerArgs) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    if let Some(livekit_url) = &args.livekit_url {
        let (Some(key), Some(secret)) = (&args.api_key, &args.api_secret) else {
            return Err(ServerError::NoLiveKitKey);
        };
        let signer = Signer::new(key.as_str(), secret.as_str());
        return runtime.block_on(serve_for_livekit(args, livekit_url, signer));
    }
    let mut config = SfuConfig::new(listen_address(args), api_keys(args)?);
    config.media = media_config(args);
    config.conference = Some(ConferenceSettings {
        public_address: args.public_address.clone(),
    });
    runtime.block_on(serve(config, discovery_interfaces(args)))
}

/// Only the conference API: rooms and media are the LiveKit deployment's.
async fn serve_for_livekit(
    args: &ServerArgs,
    livekit_url: &str,
    signer: Signer,
) -> Result<(), ServerError> {
    let conference = confab_conference::server::start(
        listen_address(args),
        livekit_url,
        signer,
        args.public_address.clone(),
        confab_conference::meeting::HOSTLESS_GRACE,
    )
    .await?;
    println!(
        "confab server: meetings on http://{}/api/conference for the LiveKit deployment at {livekit_url}",
        conference.local_addr()
    );
    wait_for_stop_signal().await?;
    eprintln!("confab server: shutting down");
    Ok(())
}

/// Where the LAN hears of this server's meetings: nowhere when it serves loopback only.
pub fn discovery_interfaces(args: &ServerArgs) -> Option<Interfaces> {
    match args.bind {
        _ if args.no_discovery => None,
        None => Some(Interfaces::Lan),
        Some(ip) if ip.is_loopback() => None,
        Some(ip) if ip.is_unspecified() => Some(Interfaces::Lan),
        Some(ip) => Some(Interfaces::Only(ip)),
    }
}

async fn serve(config: SfuConfig, discovery: Option<Interfaces>) -> Result<(), ServerError> {
    let keys: Vec<String> = config.keys.keys().map(str::to_owned).collect();
    let sfu = confab_sfu::start(config).await?;
    let _advertiser = match (discovery, sfu.conference()) {
        (Some(interfaces), Some(conference)) => {
            let meetings = conference.open_meetings();
            Advertiser::start(interfaces, sfu.local_addr().port(), meetings)
                .inspect_err(|error| {
                    eprintln!("confab server: meetings not advertised on the LAN: {error}")
                })
                .ok()
        }
        _ => None,
    };
    println!(
        "confab server: signalling on ws://{}/rtc, meetings on /api/conference, media on UDP {} (API keys: {})",
        sfu.local_addr(),
        sfu.media_addr(),
        keys.join(", ")
    );
    wait_for_stop_signal().await?;
    eprintln!("confab server: shutting down, telling participants");
    sfu.shutdown().await?;
    Ok(())
}

/// Ctrl-C anywhere; SIGTERM too on Unix (service managers send it).
async fn wait_for_stop_signal() -> Result<(), ServerError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signal)?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(ServerError::Signal),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(ServerError::Signal)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn server_args(extra: &[&str]) -> ServerArgs {
        let argv = ["confab", "server"].iter().chain(extra).copied();
        let Command::Server(args) = Cli::try_parse_from(argv).expect("valid").command else {
            panic!("not server");
        };
        args
    }

    #[test]
    fn dev_mode_uses_the_dev_key() {
        let keys = api_keys(&server_args(&["--dev"])).expect("dev keys");
        assert_eq!(keys.secret("devkey"), Some("secret"));
    }

    #[test]
    fn explicit_keys_win_and_are_validated() {
        let strong = "k: 0123456789abcdef0123456789abcdef";
        let keys = api_keys(&server_args(&["--dev", "--keys", strong])).expect("keys");
        assert_eq!(keys.secret("devkey"), None);
        assert!(keys.secret("k").is_some());
        assert!(matches!(
            api_keys(&server_args(&["--keys", "k: weak"])),
            Err(ServerError::Keys(ApiKeysError::SecretTooShort { .. }))
        ));
    }

    #[test]
    fn refuses_to_start_without_keys() {
        assert!(matches!(
            api_keys(&server_args(&[])),
            Err(ServerError::NoKeys)
        ));
    }

    #[test]
    fn fronting_livekit_needs_its_key_and_excludes_our_own_keys() {
        let parse = |extra: &[&str]| {
            let argv = ["confab", "server"].iter().chain(extra).copied();
            Cli::try_parse_from(argv)
        };
        assert!(parse(&["--livekit-url", "wss://lk.example", "--dev"]).is_err());
        let Ok(Cli {
            command: Command::Server(args),
        }) = parse(&[
            "--livekit-url",
            "wss://lk.example",
            "--api-key",
            "k",
            "--api-secret",
            "s",
        ])
        else {
            panic!("valid");
        };
        assert_eq!(args.livekit_url.as_deref(), Some("wss://lk.example"));
    }

    #[test]
    fn meetings_are_advertised_where_the_server_listens_and_never_on_loopback() {
        let interfaces = |extra: &[&str]| discovery_interfaces(&server_args(extra));
        assert_eq!(interfaces(&["--dev"]), Some(Interfaces::Lan));
        assert_eq!(interfaces(&["--dev", "--bind", "127.0.0.1"]), None);
        assert_eq!(
            interfaces(&["--dev", "--bind", "10.77.0.1"]),
            Some(Interfaces::Only(IpAddr::from([10, 77, 0, 1])))
        );
        assert_eq!(interfaces(&["--dev", "--no-discovery"]), None);
    }

    #[test]
    fn serves_the_lan_unless_bound() {
        assert_eq!(
            listen_address(&server_args(&[])),
            SocketAddr::from(([0, 0, 0, 0], 7880))
        );
        assert_eq!(
            listen_address(&server_args(&["--bind", "127.0.0.1", "--port", "9000"])),
            SocketAddr::from(([127, 0, 0, 1], 9000))
        );
    }
}
