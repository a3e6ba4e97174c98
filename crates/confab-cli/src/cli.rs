//! Command-line arguments.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "confab",
    version,
    about = "Confab meetings from the command line"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Host meetings without a display: the embedded LiveKit-compatible SFU.
    Server(ServerArgs),
}

/// Mirrors `livekit-server`'s flags so the same scripts and SDK examples work against either.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Development mode: API key `devkey`, secret `secret`.
    #[arg(long)]
    pub dev: bool,
    /// Address to listen on. Without it the server serves the LAN (all interfaces).
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// The only address advertised in ICE candidates.
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Signalling, Twirp and conference API port.
    #[arg(long, default_value_t = 7880)]
    pub port: u16,
    /// The single UDP port all media uses.
    #[arg(long, default_value_t = 7882)]
    pub udp_port: u16,
    /// API keys as `key: secret` lines (required without --dev).
    #[arg(long, env = "CONFAB_KEYS", hide_env_values = true)]
    pub keys: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_livekit_style_server_flags() {
        let cli = Cli::try_parse_from([
            "confab",
            "server",
            "--dev",
            "--bind",
            "127.0.0.1",
            "--node-ip",
            "127.0.0.1",
            "--udp-port",
            "9000",
        ])
        .expect("valid arguments");
        let Command::Server(args) = cli.command;
        assert!(args.dev);
        assert_eq!(args.bind, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(args.port, 7880);
        assert_eq!(args.udp_port, 9000);
    }

    #[test]
    fn rejects_an_address_that_is_not_an_ip() {
        let parsed = Cli::try_parse_from(["confab", "server", "--bind", "localhost:7880"]);
        assert!(parsed.is_err());
    }
}
