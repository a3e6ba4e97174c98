//! `confab server` as a process: it serves signalling on the requested loopback port, and on
//! Ctrl-C (SIGINT) it tells connected participants it is shutting down and exits cleanly.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_response::Message as Response;
use tokio_tungstenite::tungstenite::Message;

const DEADLINE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

fn dev_token(identity: &str) -> String {
    AccessToken::with_api_key("devkey", "secret")
        .with_identity(identity)
        .with_grants(VideoGrants {
            room_join: true,
            room: "cli".into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}

async fn next_response(
    socket: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Response {
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("message within the deadline")
            .expect("open")
            .expect("frame");
        if let Message::Binary(bytes) = frame {
            return proto::SignalResponse::decode(bytes)
                .expect("protobuf")
                .message
                .expect("message");
        }
    }
}

#[tokio::test]
async fn serves_until_ctrl_c_then_says_goodbye_and_exits_cleanly() {
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args([
            "server",
            "--dev",
            "--bind",
            "127.0.0.1",
            "--node-ip",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string(), "--udp-port", "0"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn confab server");

    // The server is ready once it accepts a WebSocket join.
    let url = format!(
        "ws://127.0.0.1:{port}/rtc?access_token={}",
        dev_token("ada")
    );
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut socket = loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok((socket, _)) => break socket,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "server never accepted: {error}"
                );
                assert!(
                    server.try_wait().expect("status").is_none(),
                    "server exited early"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(matches!(
        next_response(&mut socket).await,
        Response::Join(_)
    ));

    let interrupted = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());

    // The subscriber offer may come first; the leave must follow.
    let leave = loop {
        match next_response(&mut socket).await {
            Response::Leave(leave) => break leave,
            Response::Offer(_) => {}
            other => panic!("no leave on Ctrl-C: {other:?}"),
        }
    };
    assert_eq!(leave.reason, proto::DisconnectReason::ServerShutdown as i32);
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "confab server exited with {status}");
}

#[test]
fn refuses_to_start_without_keys_with_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["server", "--bind", "127.0.0.1", "--port", "0"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dev"), "{stderr}");
}
