//! Helpers shared by the SFU's scenario tests: a server on a loopback port, tokens, a raw
//! LiveKit signalling client and plain HTTP calls.
#![allow(dead_code)]

pub mod rtc_peer;

use std::net::SocketAddr;
use std::time::Duration;

use confab_sfu::{ApiKeys, RunningSfu, SfuConfig};
use futures_util::{SinkExt, StreamExt};
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const KEY: &str = "APItest";
pub const SECRET: &str = "test-secret-test-secret-test-secret";
/// Generous: only a failing test ever waits this long.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn start_sfu() -> RunningSfu {
    start_sfu_with(|_| {}).await
}

/// A server on a loopback port with adjusted settings.
pub async fn start_sfu_with(adjust: impl FnOnce(&mut SfuConfig)) -> RunningSfu {
    // `RUST_LOG=confab_sfu=debug cargo test …` shows the server's side of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = SfuConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        ApiKeys::parse(&format!("{KEY}: {SECRET}")).expect("keys"),
    );
    adjust(&mut config);
    confab_sfu::start(config).await.expect("start")
}

pub fn join_token(room: &str, identity: &str) -> String {
    token_with(
        VideoGrants {
            room_join: true,
            room: room.into(),
            ..Default::default()
        },
        identity,
    )
}

pub fn token_with(grants: VideoGrants, identity: &str) -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
        .expect("token")
}

pub async fn connect(sfu: &RunningSfu, token: &str) -> Result<Socket, tungstenite::Error> {
    connect_with(sfu, token, "").await
}

/// Connects with extra query parameters (e.g. `&reconnect=1&sid=PA_…`).
pub async fn connect_with(
    sfu: &RunningSfu,
    token: &str,
    extra_query: &str,
) -> Result<Socket, tungstenite::Error> {
    let url = format!(
        "ws://{}/rtc?access_token={token}&protocol=17&sdk=rust{extra_query}",
        sfu.local_addr()
    );
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(socket, _)| socket)
}

/// Connects and returns the socket with its JoinResponse (which must come first).
pub async fn join(sfu: &RunningSfu, room: &str, identity: &str) -> (Socket, proto::JoinResponse) {
    let mut socket = connect(sfu, &join_token(room, identity))
        .await
        .expect("upgrade");
    match next(&mut socket).await {
        Response::Join(join) => (socket, join),
        other => panic!("first message was not join: {other:?}"),
    }
}

/// The next signal response, within the deadline, skipping subscriber offers: these tests
/// check signalling; media negotiation has its own tests.
pub async fn next(socket: &mut Socket) -> Response {
    loop {
        match next_any(socket).await {
            Response::Offer(_) => {}
            other => return other,
        }
    }
}

/// The next signal response of any kind, within the deadline.
pub async fn next_any(socket: &mut Socket) -> Response {
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("a signal message within the deadline")
            .expect("connection open")
            .expect("frame");
        match frame {
            Message::Binary(bytes) => {
                let response = proto::SignalResponse::decode(bytes).expect("protobuf");
                return response.message.expect("non-empty response");
            }
            Message::Text(text) => {
                let response: proto::SignalResponse =
                    serde_json::from_str(text.as_str()).expect("json");
                return response.message.expect("non-empty response");
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Waits for the close frame, returning its code.
pub async fn closed(socket: &mut Socket) -> Option<u16> {
    loop {
        let frame = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("close within the deadline");
        match frame {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

pub async fn send(socket: &mut Socket, request: Request) {
    let bytes = proto::SignalRequest {
        message: Some(request),
    }
    .encode_to_vec();
    socket
        .send(Message::Binary(bytes.into()))
        .await
        .expect("send");
}

/// A plain GET, returning status and body text.
pub async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let (status, body) = http_request(address, "GET", path, &[], b"").await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A RoomService call with a protobuf body, as LiveKit's server SDKs make it.
pub async fn twirp<Req: prost::Message, Resp: prost::Message + Default>(
    address: SocketAddr,
    method: &str,
    token: &str,
    request: &Req,
) -> Result<Resp, (u16, String)> {
    let (status, body) = http_request(
        address,
        "POST",
        &format!("/twirp/livekit.RoomService/{method}"),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/protobuf"),
        ],
        &request.encode_to_vec(),
    )
    .await;
    if status == 200 {
        Ok(Resp::decode(body.as_slice()).expect("protobuf response"))
    } else {
        Err((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// A raw HTTP/1.1 request on loopback, returning status and body bytes.
pub async fn http_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut raw))
        .await
        .expect("response within the deadline")
        .expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    (status, raw[split + 4..].to_vec())
}

/// Creates a room through the RoomService, as an administrator.
pub async fn create_room(sfu: &RunningSfu, request: proto::CreateRoomRequest) -> proto::Room {
    twirp(sfu.local_addr(), "CreateRoom", &admin_token(""), &request)
        .await
        .expect("created")
}

pub fn admin_token(room: &str) -> String {
    AccessToken::with_api_key(KEY, SECRET)
        .with_grants(VideoGrants {
            room_admin: true,
            room_create: true,
            room_list: true,
            room: room.into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}
