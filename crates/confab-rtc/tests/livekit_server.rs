//! The signalling client against a real `livekit-server` (`--dev`, loopback), the binary
//! `cargo xtask test` builds and names in `CONFAB_LIVEKIT_SERVER`.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{arrives_then_leaves, join_token, left_with};
use confab_rtc::signal::{self, JoinQuery, SignalError};
use livekit_protocol as proto;

/// `livekit-server --dev` credentials.
const DEV_KEY: &str = "devkey";
const DEV_SECRET: &str = "secret";
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// A `livekit-server --dev` on loopback ports of its own; killed on drop.
struct LiveKitServer {
    child: Child,
    url: String,
}

impl LiveKitServer {
    fn start() -> Self {
        let binary = std::env::var("CONFAB_LIVEKIT_SERVER").expect(
            "CONFAB_LIVEKIT_SERVER must name a livekit-server binary (cargo xtask test builds one)",
        );
        let port = free_tcp_port();
        let config = format!(
            "port: {port}\nrtc:\n  tcp_port: {}\n  udp_port: {}\n",
            free_tcp_port(),
            free_udp_port()
        );
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
        server.wait_until_listening(port);
        server
    }

    /// Polls the signalling port: the server gives no other sign that it is ready.
    fn wait_until_listening(&mut self, port: u16) {
        let started = Instant::now();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("livekit-server exited early: {status}");
            }
            assert!(
                started.elapsed() < STARTUP_DEADLINE,
                "livekit-server did not listen on {port} within {STARTUP_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

fn token(secret: &str, room: &str, identity: &str) -> String {
    join_token(DEV_KEY, secret, room, identity)
}

/// One server for every check: it takes seconds to start.
#[tokio::test]
async fn joins_a_real_livekit_server_and_follows_the_room() {
    let server = LiveKitServer::start();
    let query = JoinQuery::default();

    let mut alice = signal::connect(&server.url, &token(DEV_SECRET, "standup", "alice"), &query)
        .await
        .expect("alice joins");
    let me = alice.join.participant.as_ref().expect("participant");
    assert_eq!(me.identity, "alice");
    assert!(me.sid.starts_with("PA_"), "{}", me.sid);
    assert_eq!(alice.join.room.as_ref().expect("room").name, "standup");
    assert!(alice.join.ping_interval > 0 && alice.join.ping_timeout > 0);

    let bob = signal::connect(&server.url, &token(DEV_SECRET, "standup", "bob"), &query)
        .await
        .expect("bob joins");
    assert!(
        bob.join
            .other_participants
            .iter()
            .any(|p| p.identity == "alice"),
        "{:?}",
        bob.join.other_participants
    );
    arrives_then_leaves(&mut alice.events, bob, "bob").await;

    // A token signed with another secret: refused before the upgrade, with the server's reason.
    let forged = token("another-secret", "standup", "mallory");
    let error = signal::connect(&server.url, &forged, &query)
        .await
        .expect_err("refused");
    let SignalError::Refused { status, reason } = error else {
        panic!("expected a refusal, got {error:?}");
    };
    assert_eq!(status, 401, "{reason}");
    assert!(!reason.is_empty());

    // The same identity again: the first connection ends with that reason.
    let _again = signal::connect(&server.url, &token(DEV_SECRET, "standup", "alice"), &query)
        .await
        .expect("alice joins again");
    left_with(
        &mut alice.events,
        proto::DisconnectReason::DuplicateIdentity,
    )
    .await;
}

/// Two Confab clients exchange media, mute state, chat and data through a real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_media_chat_and_mute_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::two_clients_exchange_media_chat_and_mute(&server.url, |identity| {
        token(DEV_SECRET, "media", identity)
    })
    .await;
}

/// RPC between two Confab clients through a real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_calls_and_their_failures_on_livekit_server() {
    common::init_tracing();
    let server = LiveKitServer::start();
    common::scenarios::rpc_calls_and_their_failures(&server.url, |identity| {
        token(DEV_SECRET, "rpc", identity)
    })
    .await;
}
