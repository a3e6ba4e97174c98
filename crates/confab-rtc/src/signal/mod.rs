//! The signalling connection to a LiveKit-compatible server: one WebSocket carrying
//! `SignalRequest`s up and `SignalResponse`s down as binary protobuf frames.
//!
//! [`connect`] opens it and waits for the JoinResponse; afterwards one task owns the socket,
//! writes what [`SignalClient::send`] queues, keeps it alive with pings at the interval the
//! server asked for, and delivers everything else as [`SignalEvent`]s. Each way the connection
//! can end is one [`SignalClosed`] value, delivered exactly once as the last event.

mod tls;
pub mod url;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, Stream, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use proto::signal_request::Message as Request;
use proto::signal_response::Message as Response;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::{self, Message};

pub use url::{JoinQuery, PROTOCOL_VERSION, rtc_url};

/// How long the server may take to answer the join (LiveKit's SDKs wait 15 s as well).
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long opening the WebSocket (TCP, TLS, upgrade) may take. A network that drops packets
/// silently would otherwise hold a connect for the kernel's SYN retries (about two minutes).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Requests waiting to be written; a full queue makes [`SignalClient::send`] wait.
const OUTBOX_CAPACITY: usize = 256;
/// Events waiting to be read; a full queue pauses reading from the server.
const EVENT_CAPACITY: usize = 1024;
/// The longest reason taken from a refusal's body (it is shown to users).
const MAX_REASON_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("bad server URL: {0}")]
    BadUrl(String),
    #[error("the token cannot be sent in an HTTP header")]
    BadToken,
    #[error("the server refused the connection ({status}): {reason}")]
    Refused { status: u16, reason: String },
    #[error("could not reach the server: {0}")]
    Unreachable(String),
    #[error("the server's certificate is not trusted: {0}")]
    UntrustedCertificate(String),
    #[error("TLS is not available: {0}")]
    Tls(String),
    #[error("the server did not answer the join within {0:?}")]
    JoinTimeout(Duration),
    #[error("the server closed the connection before the join completed")]
    ClosedBeforeJoin,
    #[error("the server turned the join down: {reason:?}")]
    LeftBeforeJoin { reason: proto::DisconnectReason },
    #[error("the server cannot resume this session ({reason:?}); join again")]
    RejoinRequired { reason: proto::DisconnectReason },
    #[error("malformed signal message: {0}")]
    Malformed(String),
    #[error("the signalling connection is closed")]
    Closed,
}

/// Something the server said, or the end of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalEvent {
    Message(Box<Response>),
    Closed(SignalClosed),
}

/// Why the signalling connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalClosed {
    /// The server sent `leave` (removed, room deleted, duplicate identity, shutdown, …).
    Left {
        reason: proto::DisconnectReason,
        action: proto::leave_request::Action,
    },
    /// The socket closed or failed without a `leave`.
    Lost(String),
    /// Nothing arrived from the server within its ping timeout.
    PingTimeout,
    /// The server sent something that is not a signal message.
    ProtocolError(String),
    /// [`SignalClient::leave`] or dropping the client ended it.
    ClosedByClient,
}

/// A joined signalling connection.
#[derive(Debug)]
pub struct Joined {
    pub client: SignalClient,
    pub join: proto::JoinResponse,
    pub events: mpsc::Receiver<SignalEvent>,
    /// Whether the session uses one peer connection: asked for and offered by the server.
    pub single_peer_connection: bool,
}

/// A resumed signalling connection (`reconnect=1`).
#[derive(Debug)]
pub struct Resumed {
    pub client: SignalClient,
    /// The server's answer to the resume; `None` from servers that answer with something
    /// else first (older LiveKit servers), which then is the first event.
    pub reconnect: Option<proto::ReconnectResponse>,
    pub events: mpsc::Receiver<SignalEvent>,
}

/// Sends requests on a joined connection. Dropping it closes the connection.
#[derive(Debug)]
pub struct SignalClient {
    outbox: mpsc::Sender<Outgoing>,
}

#[derive(Debug)]
enum Outgoing {
    Request(Box<Request>),
    /// Send this leave, then close the socket.
    Leave(Box<Request>),
}

impl SignalClient {
    /// Queues `request` for the server.
    pub async fn send(&self, request: Request) -> Result<(), SignalError> {
        self.outbox
            .send(Outgoing::Request(Box::new(request)))
            .await
            .map_err(|_| SignalError::Closed)
    }

    /// Queues `request` without waiting; fails when the queue is full or the connection closed.
    pub fn try_send(&self, request: Request) -> Result<(), SignalError> {
        self.outbox
            .try_send(Outgoing::Request(Box::new(request)))
            .map_err(|_| SignalError::Closed)
    }

    /// Tells the server this participant leaves, then closes the connection.
    pub async fn leave(&self) -> Result<(), SignalError> {
        let leave = Request::Leave(proto::LeaveRequest {
            can_reconnect: false,
            reason: proto::DisconnectReason::ClientInitiated as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            regions: None,
        });
        self.outbox
            .send(Outgoing::Leave(Box::new(leave)))
            .await
            .map_err(|_| SignalError::Closed)
    }
}

/// Connects to `server` (any form [`rtc_url`] takes) with `token` and waits for the
/// JoinResponse. A server without `/rtc/v1` (older LiveKit servers, Confab's own SFU) answers
/// it with 404; the join then uses two peer connections, as the browser SDK does.
pub async fn connect(server: &str, token: &str, query: &JoinQuery) -> Result<Joined, SignalError> {
    let mut single_peer_connection = query.single_peer_connection;
    let opened = match open(server, token, query).await {
        Err(SignalError::Refused { status: 404, .. }) if single_peer_connection => {
            tracing::debug!("no /rtc/v1 on this server; joining with two peer connections");
            single_peer_connection = false;
            let query = JoinQuery {
                single_peer_connection,
                ..query.clone()
            };
            open(server, token, &query).await
        }
        opened => opened,
    };
    let (sink, mut stream) = opened?;
    let join = match first_response(&mut stream).await? {
        Response::Join(join) => join,
        Response::Leave(leave) => {
            return Err(SignalError::LeftBeforeJoin {
                reason: leave.reason(),
            });
        }
        other => {
            return Err(SignalError::Malformed(format!(
                "expected the join response first, got {}",
                response_name(&other)
            )));
        }
    };
    tracing::debug!("join response");
    let keepalive = Keepalive::from_join(&join);
    let (client, events) = start(sink, stream, keepalive, None);
    Ok(Joined {
        client,
        join,
        events,
        single_peer_connection,
    })
}

/// Resumes the session of participant `sid` after the signalling connection dropped: the
/// server keeps the participant and its tracks for a while, and answers with a
/// `ReconnectResponse`. `keepalive` comes from the session's JoinResponse: the server's
/// ping interval still applies.
pub async fn resume(
    server: &str,
    token: &str,
    query: &JoinQuery,
    sid: &str,
    keepalive: Keepalive,
) -> Result<Resumed, SignalError> {
    let query = JoinQuery {
        resume_sid: Some(sid.to_owned()),
        ..query.clone()
    };
    let (sink, mut stream) = open(server, token, &query).await?;
    let (reconnect, first_event) = match first_response(&mut stream).await? {
        Response::Reconnect(reconnect) => (Some(reconnect), None),
        Response::Leave(leave) if leave.action() == proto::leave_request::Action::Disconnect => {
            return Err(SignalError::LeftBeforeJoin {
                reason: leave.reason(),
            });
        }
        Response::Leave(leave) => {
            return Err(SignalError::RejoinRequired {
                reason: leave.reason(),
            });
        }
        Response::Join(_) => {
            return Err(SignalError::Malformed("a join response to a resume".into()));
        }
        other => (None, Some(other)),
    };
    let (client, events) = start(sink, stream, keepalive, first_event);
    Ok(Resumed {
        client,
        reconnect,
        events,
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the WebSocket, the token in the `Authorization` header.
async fn open(
    server: &str,
    token: &str,
    query: &JoinQuery,
) -> Result<
    (
        futures_util::stream::SplitSink<Socket, Message>,
        futures_util::stream::SplitStream<Socket>,
    ),
    SignalError,
> {
    let url = rtc_url(server, query)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|error| SignalError::BadUrl(error.to_string()))?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| SignalError::BadToken)?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    tracing::debug!(%url, "connecting");
    let connector = if url.starts_with("wss://") {
        Some(tokio_tungstenite::Connector::Rustls(tls::client_config()?))
    } else {
        None
    };
    let opening = tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector);
    let Ok(opened) = tokio::time::timeout(OPEN_TIMEOUT, opening).await else {
        return Err(SignalError::Unreachable(format!(
            "no connection within {OPEN_TIMEOUT:?}"
        )));
    };
    match opened {
        Ok((socket, _)) => Ok(socket.split()),
        Err(tungstenite::Error::Io(error)) => Err(match tls::certificate_error(&error) {
            Some(problem) => SignalError::UntrustedCertificate(problem),
            None => SignalError::Unreachable(error.to_string()),
        }),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.into_body().unwrap_or_default();
            Err(SignalError::Refused {
                status,
                reason: refusal_reason(&body),
            })
        }
        Err(error) => Err(SignalError::Unreachable(error.to_string())),
    }
}

/// The server's first message, within [`JOIN_TIMEOUT`].
async fn first_response<S>(stream: &mut S) -> Result<Response, SignalError>
where
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    match tokio::time::timeout(JOIN_TIMEOUT, next_response(stream)).await {
        Err(_) => Err(SignalError::JoinTimeout(JOIN_TIMEOUT)),
        Ok(Err(error)) => Err(error),
        Ok(Ok(None)) => Err(SignalError::ClosedBeforeJoin),
        Ok(Ok(Some(response))) => Ok(response),
    }
}

/// Hands the socket to its task; `first_event` is delivered before anything else.
fn start<K, S>(
    sink: K,
    stream: S,
    keepalive: Keepalive,
    first_event: Option<Response>,
) -> (SignalClient, mpsc::Receiver<SignalEvent>)
where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin + Send + 'static,
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin + Send + 'static,
{
    let (outbox, requests) = mpsc::channel(OUTBOX_CAPACITY);
    let (events_tx, events) = mpsc::channel(EVENT_CAPACITY);
    if let Some(first) = first_event {
        // The channel is new and empty: this cannot fail for lack of room.
        let _ = events_tx.try_send(SignalEvent::Message(Box::new(first)));
    }
    tokio::spawn(run(sink, stream, requests, events_tx, keepalive));
    (SignalClient { outbox }, events)
}

/// The first line of a refusal body, bounded (servers answer 401/403/404 with plain text).
fn refusal_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let reason: String = text
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    if reason.is_empty() {
        "no reason given".into()
    } else {
        reason
    }
}

/// The next signal response; `None` when the server closed the socket.
async fn next_response<S>(stream: &mut S) -> Result<Option<Response>, SignalError>
where
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    loop {
        let frame = match stream.next().await {
            None => return Ok(None),
            Some(Err(error)) => return Err(SignalError::Unreachable(error.to_string())),
            Some(Ok(frame)) => frame,
        };
        match frame {
            Message::Close(_) => return Ok(None),
            Message::Binary(bytes) => {
                let response = proto::SignalResponse::decode(bytes)
                    .map_err(|error| SignalError::Malformed(error.to_string()))?;
                match response.message {
                    Some(message) => return Ok(Some(message)),
                    None => return Err(SignalError::Malformed("empty signal response".into())),
                }
            }
            Message::Text(_) => {
                return Err(SignalError::Malformed(
                    "text frame on a binary (protobuf) connection".into(),
                ));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

fn response_name(response: &Response) -> &'static str {
    match response {
        Response::Join(_) => "join",
        Response::Leave(_) => "leave",
        Response::Offer(_) => "offer",
        Response::Answer(_) => "answer",
        Response::Trickle(_) => "trickle",
        Response::Update(_) => "participant update",
        Response::Reconnect(_) => "reconnect",
        _ => "another message",
    }
}

/// Pings at the server's interval; the connection counts as lost when nothing at all arrived
/// for the server's timeout.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    interval: Option<Duration>,
    timeout: Option<Duration>,
}

impl Keepalive {
    /// The server's ping interval and timeout from its JoinResponse.
    pub fn from_join(join: &proto::JoinResponse) -> Self {
        let seconds = |value: i32| {
            u64::try_from(value)
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
        };
        Self {
            interval: seconds(join.ping_interval),
            timeout: seconds(join.ping_timeout),
        }
    }
}

/// Owns the socket until it ends; the last event sent is always `Closed`.
async fn run<K, S>(
    mut sink: K,
    mut stream: S,
    mut requests: mpsc::Receiver<Outgoing>,
    events: mpsc::Sender<SignalEvent>,
    keepalive: Keepalive,
) where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
    S: Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let mut last_heard = Instant::now();
    let mut ping = keepalive.interval.map(|every| {
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let closed = loop {
        let tick = async {
            match ping.as_mut() {
                Some(ticks) => {
                    ticks.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            outgoing = requests.recv() => match outgoing {
                Some(Outgoing::Request(request)) => {
                    if let Err(error) = write(&mut sink, *request).await {
                        break SignalClosed::Lost(error.to_string());
                    }
                }
                Some(Outgoing::Leave(leave)) => {
                    let _ = write(&mut sink, *leave).await;
                    let _ = sink.close().await;
                    break SignalClosed::ClosedByClient;
                }
                None => {
                    let _ = sink.close().await;
                    break SignalClosed::ClosedByClient;
                }
            },
            response = next_response(&mut stream) => match response {
                Ok(Some(Response::Leave(leave))) => break SignalClosed::Left {
                    reason: leave.reason(),
                    action: leave.action(),
                },
                Ok(Some(message)) => {
                    last_heard = Instant::now();
                    tracing::trace!(message = response_name(&message), "signal message in");
                    if events.send(SignalEvent::Message(Box::new(message))).await.is_err() {
                        // Nobody listens any more: same as dropping the client.
                        let _ = sink.close().await;
                        break SignalClosed::ClosedByClient;
                    }
                }
                Ok(None) => break SignalClosed::Lost("the server closed the connection".into()),
                Err(SignalError::Malformed(why)) => break SignalClosed::ProtocolError(why),
                Err(error) => break SignalClosed::Lost(error.to_string()),
            },
            () = tick => {
                if keepalive.timeout.is_some_and(|timeout| last_heard.elapsed() > timeout) {
                    break SignalClosed::PingTimeout;
                }
                let now = unix_millis();
                let pings = [Request::Ping(now), Request::PingReq(proto::Ping { timestamp: now, rtt: 0 })];
                for request in pings {
                    if let Err(error) = write(&mut sink, request).await {
                        tracing::debug!(%error, "ping not sent");
                    }
                }
            }
        }
    };
    tracing::debug!(?closed, "signalling connection ended");
    let _ = events.send(SignalEvent::Closed(closed)).await;
}

async fn write<K>(sink: &mut K, request: Request) -> Result<(), tungstenite::Error>
where
    K: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let bytes = proto::SignalRequest {
        message: Some(request),
    }
    .encode_to_vec();
    sink.send(Message::Binary(bytes.into())).await
}

/// Milliseconds since the Unix epoch (LiveKit's timestamps).
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reasons_are_one_bounded_line() {
        assert_eq!(
            refusal_reason(b"invalid authorization token: signature is invalid\n"),
            "invalid authorization token: signature is invalid"
        );
        assert_eq!(refusal_reason(b"  "), "no reason given");
        let long = "x".repeat(2 * MAX_REASON_CHARS);
        assert_eq!(
            refusal_reason(long.as_bytes()).chars().count(),
            MAX_REASON_CHARS
        );
    }

    #[test]
    fn keepalive_follows_the_join_response() {
        let join = proto::JoinResponse {
            ping_interval: 5,
            ping_timeout: 15,
            ..Default::default()
        };
        let keepalive = Keepalive::from_join(&join);
        assert_eq!(keepalive.interval, Some(Duration::from_secs(5)));
        assert_eq!(keepalive.timeout, Some(Duration::from_secs(15)));
        let silent = Keepalive::from_join(&proto::JoinResponse::default());
        assert_eq!((silent.interval, silent.timeout), (None, None));
    }
}
