//! Command-line arguments.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Join a room on any LiveKit-compatible server; print what happens, send and save files.
    Join(Box<JoinArgs>),
    /// List the microphones, speakers, cameras, screens and windows a meeting could use
    /// (JSON lines).
    Devices,
    /// Find a meeting's host on the LAN by its code, or list the meetings nearby.
    Discover(DiscoverArgs),
    /// Run Confab's audio path over recordings: voice processing, or a lossy network.
    #[command(subcommand)]
    Audio(AudioCommand),
}

/// `confab audio …`: the microphone and playout paths on WAV files (48 kHz mono), to hear
/// and measure what they do without a meeting.
#[derive(Debug, Subcommand)]
pub enum AudioCommand {
    /// Echo cancellation, noise suppression, gain control and high-pass on a microphone
    /// recording, with the far end (what the speaker played) as the echo reference.
    Process(ProcessArgs),
    /// Opus-encode a recording, lose packets on the way, and play it out through the
    /// jitter buffer with FEC and concealment.
    Network(NetworkArgs),
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// What the speaker played (the far end).
    #[arg(long)]
    pub far: PathBuf,
    /// What the microphone heard.
    #[arg(long)]
    pub mic: PathBuf,
    /// Where the processed microphone goes.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub no_echo_cancellation: bool,
    #[arg(long)]
    pub no_noise_suppression: bool,
    #[arg(long)]
    pub no_auto_gain: bool,
    #[arg(long)]
    pub no_high_pass: bool,
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Packets lost at random, in percent.
    #[arg(long, default_value_t = 10.0, value_parser = percent)]
    pub loss: f64,
    /// Each packet is up to this much late (uniformly at random).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// The random sequence of losses and delays.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Play silence for lost packets instead of FEC and concealment (for comparison).
    #[arg(long)]
    pub no_concealment: bool,
}

/// `confab join <url>`: with a token, or with an API key and secret to make one (as `lk` does).
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server: ws://, wss://, http:// or https:// (e.g. ws://127.0.0.1:7880).
    pub url: String,
    /// A join token (keeps the secret off this machine).
    #[arg(long, env = "LIVEKIT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "LIVEKIT_API_KEY", requires = "api_secret")]
    pub api_key: Option<String>,
    #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// The room to join (with --api-key).
    #[arg(long)]
    pub room: Option<String>,
    /// Who to join as (with --api-key).
    #[arg(long)]
    pub identity: Option<String>,
    /// Display name (with --api-key; default: the identity).
    #[arg(long)]
    pub name: Option<String>,
    /// Publish a synthetic camera (3 simulcast layers) and microphone: frames carry counters,
    /// for Confab-to-Confab tests; browsers cannot decode them.
    #[arg(long, conflicts_with = "test_media")]
    pub synthetic_media: bool,
    /// Publish the test pattern (1280×720 in 3 simulcast layers, a frame counter and the
    /// capture time drawn in the pixels) and a tone, decodable by every LiveKit SDK.
    #[arg(long)]
    pub test_media: bool,
    /// Publish a light load instead of live media: the test pattern encoded once (a 2 s
    /// clip) and sent in a loop, as `camera:WxH` (one layer) or `screen:WxH` (a screen share).
    /// Repeatable; for benchmarks, where live encoders would take the CPU being measured.
    #[arg(long, value_name = "KIND:WxH", value_parser = load_video, conflicts_with_all = ["test_media", "synthetic_media"])]
    pub load_video: Vec<LoadVideo>,
    /// Publish this microphone (an id from `confab devices`, or `default`), with echo
    /// cancellation, noise suppression and gain control.
    #[arg(long, value_name = "ID", conflicts_with = "test_media")]
    pub microphone: Option<String>,
    /// Play everyone's audio on this speaker (an id from `confab devices`, or `default`);
    /// what it plays is the echo canceller's far end.
    #[arg(long, value_name = "ID")]
    pub speaker: Option<String>,
    /// Share a screen or a window: an id from `confab devices` (`screen:0`,
    /// `window:0x…`). X11 only for now.
    #[arg(long, value_name = "ID")]
    pub share_screen: Option<String>,
    /// The codec --test-media and --share-screen ask the server for (it may answer with the other).
    #[arg(long, value_enum, default_value_t = CliVideoCodec::Vp8)]
    pub video_codec: CliVideoCodec,
    /// The tone's frequency with --test-media.
    #[arg(long, default_value_t = 440.0)]
    pub tone_hz: f64,
    /// Send this chat message once joined (repeatable).
    #[arg(long)]
    pub chat: Vec<String>,
    /// Once joined, send the chat message `tick N` (N = 1, 2, …) every this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds)]
    pub chat_every: Option<f64>,
    /// Send this file to everyone once joined (repeatable).
    #[arg(long)]
    pub send_file: Vec<PathBuf>,
    /// The byte-stream topic files are sent on.
    #[arg(long, default_value = "files")]
    pub topic: String,
    /// Save received files here (default: the system temp folder).
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    /// Wait until this participant is present before sending (repeatable).
    #[arg(long)]
    pub wait_for: Vec<String>,
    /// Leave after receiving this many files.
    #[arg(long)]
    pub exit_after_files: Option<usize>,
    /// Leave after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Subscribe to nobody's tracks (a publisher for load: it decodes nothing).
    #[arg(long)]
    pub no_subscribe: bool,
    /// Use LiveKit's two peer connections (publisher and subscriber) even where the server
    /// offers one (`/rtc/v1`, LiveKit 1.9+).
    #[arg(long)]
    pub two_peer_connections: bool,
    /// Answer RPC calls of the method `echo` with their payload.
    #[arg(long)]
    pub rpc_echo: bool,
    /// Call an RPC method once everyone awaited is present: `IDENTITY:METHOD:PAYLOAD`
    /// (repeatable).
    #[arg(long, value_name = "IDENTITY:METHOD:PAYLOAD")]
    pub rpc_call: Vec<String>,
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
    /// Run meetings on this LiveKit deployment (`wss://…`, the address clients use) instead of
    /// the embedded SFU: only the conference API is served here.
    #[arg(long, requires_all = ["api_key", "api_secret"], conflicts_with_all = ["dev", "keys", "udp_port", "node_ip"])]
    pub livekit_url: Option<String>,
    /// The LiveKit deployment's API key (with --livekit-url).
    #[arg(long, env = "LIVEKIT_API_KEY")]
    pub api_key: Option<String>,
    /// The LiveKit deployment's API secret (with --livekit-url).
    #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// How invitation links name this server (`host:port` or a URL); default: the address
    /// each request came to.
    #[arg(long)]
    pub public_address: Option<String>,
    /// Do not advertise meetings on the LAN (mDNS; never done when bound to loopback).
    #[arg(long)]
    pub no_discovery: bool,
}

/// `confab discover`: meetings on the LAN (mDNS).
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Find the host of this meeting; without it, list the meetings hosts chose to list.
    pub code: Option<String>,
    /// How long to listen.
    #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
    pub seconds: f64,
    /// Listen only on the interface with this address (default: every interface but loopback).
    #[arg(long)]
    pub bind: Option<IpAddr>,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a percentage from 0 to 100")),
    }
}

/// What `--load-video` publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadVideo {
    pub screen: bool,
    pub width: u32,
    pub height: u32,
}

/// `camera:640x360` or `screen:1920x1080` (even sizes from 16×16 to 3840×2160).
fn load_video(text: &str) -> Result<LoadVideo, String> {
    let refuse = || format!("{text:?} is not camera:WxH or screen:WxH (e.g. camera:640x360)");
    let (kind, size) = text.split_once(':').ok_or_else(refuse)?;
    let screen = match kind {
        "camera" => false,
        "screen" => true,
        _ => return Err(refuse()),
    };
    let (width, height) = size.split_once('x').ok_or_else(refuse)?;
    let (width, height): (u32, u32) = (
        width.parse().map_err(|_| refuse())?,
        height.parse().map_err(|_| refuse())?,
    );
    let fits = |value: u32, most: u32| (16..=most).contains(&value) && value.is_multiple_of(2);
    if !fits(width, 3840) || !fits(height, 2160) {
        return Err(refuse());
    }
    Ok(LoadVideo {
        screen,
        width,
        height,
    })
}

/// A period in seconds: finite and above zero.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(seconds),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
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
        let Command::Server(args) = cli.command else {
            panic!("not server");
        };
        assert!(args.dev);
        assert_eq!(args.bind, Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(args.port, 7880);
        assert_eq!(args.udp_port, 9000);
    }

    #[test]
    fn join_takes_repeated_files_and_chat() {
        let cli = Cli::try_parse_from([
            "confab",
            "join",
            "ws://127.0.0.1:7880",
            "--token",
            "t",
            "--send-file",
            "a.bin",
            "--send-file",
            "b.bin",
            "--chat",
            "hi",
        ])
        .expect("valid arguments");
        let Command::Join(args) = cli.command else {
            panic!("not join");
        };
        assert_eq!(args.send_file.len(), 2);
        assert_eq!(args.chat, ["hi"]);
        assert_eq!(args.topic, "files");
    }

    #[test]
    fn load_video_names_a_kind_and_an_even_size() {
        assert_eq!(
            load_video("camera:640x360"),
            Ok(LoadVideo {
                screen: false,
                width: 640,
                height: 360
            })
        );
        assert!(load_video("screen:1920x1080").is_ok_and(|load| load.screen));
        for bad in [
            "camera",
            "mic:640x360",
            "camera:640",
            "camera:641x360",
            "screen:0x0",
            "camera:99999x2",
        ] {
            assert!(load_video(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_chat_period_must_be_positive() {
        let parse = |period: &str| {
            Cli::try_parse_from(["confab", "join", "ws://h", "--chat-every", period])
        };
        for bad in ["0", "-1", "soon", "inf"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let Ok(Cli {
            command: Command::Join(args),
        }) = parse("0.5")
        else {
            panic!("0.5 s is a period");
        };
        assert_eq!(args.chat_every, Some(0.5));
    }

    #[test]
    fn rejects_an_address_that_is_not_an_ip() {
        let parsed = Cli::try_parse_from(["confab", "server", "--bind", "localhost:7880"]);
        assert!(parsed.is_err());
    }
}

/// The video codecs `confab join` can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CliVideoCodec {
    Vp8,
    H264,
}

impl From<CliVideoCodec> for confab_rtc::room::VideoCodec {
    fn from(codec: CliVideoCodec) -> Self {
        match codec {
            CliVideoCodec::Vp8 => Self::Vp8,
            CliVideoCodec::H264 => Self::H264,
        }
    }
}
