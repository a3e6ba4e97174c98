//! A real `livekit-server --dev` for tests: the binary `cargo xtask test` builds and names in
//! `CONFAB_LIVEKIT_SERVER`, on loopback ports of its own.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `livekit-server --dev` credentials.
pub const DEV_KEY: &str = "devkey";
pub const DEV_SECRET: &str = "secret";
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// A `livekit-server --dev` on loopback ports of its own; killed on drop.
pub struct LiveKitServer {
    child: Child,
    pub url: String,
}

impl LiveKitServer {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// With more of livekit-server's YAML configuration (top-level keys other than `port` and
    /// `rtc`), e.g. a `room:` section.
    pub fn start_with(extra_config: &str) -> Self {
        let binary = std::env::var("CONFAB_LIVEKIT_SERVER").expect(
            "CONFAB_LIVEKIT_SERVER must name a livekit-server binary (cargo xtask test builds one)",
        );
        let port = free_tcp_port();
        // Media on loopback only: by default the server gathers candidates on every interface
        // but loopback, and clients would reach it on this machine's own network address.
        let config = format!(
            "port: {port}\nrtc:\n  tcp_port: {}\n  udp_port: {}\n  enable_loopback_candidate: true\n  interfaces:\n    includes: [lo]\n",
            free_tcp_port(),
            free_udp_port()
        ) + extra_config;
        let child = Command::new(&binary)
            .args(["--dev", "--bind", "127.0.0.1", "--node-ip", "127.0.0.1"])
            .args(["--config-body", &config])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        let mut server = Self {
            child,
            url: format!("ws://127.0.0.1:{port}"),
        };
        wait_until_listening(&mut server.child, port, "livekit-server");
        server
    }
}

/// Polls a loopback port until the server `child` listens on it: servers give no other sign
/// that they are ready.
pub fn wait_until_listening(child: &mut Child, port: u16, what: &str) {
    let started = Instant::now();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        assert!(
            started.elapsed() < STARTUP_DEADLINE,
            "{what} did not listen on {port} within {STARTUP_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}
