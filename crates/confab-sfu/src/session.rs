//! One participant's signalling WebSocket: decodes requests for the hub and writes the hub's
//! messages back, in the framing the client chose (binary protobuf, or protobuf JSON once the
//! client sends a text frame, as `livekit-server` does).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use livekit_protocol as proto;
use prost::Message as _;
use tokio::time::Instant;

use crate::auth::JoinGrant;
use crate::hub::{Hub, Membership};
use crate::room::{self, CloseReason, Delivery};

/// Largest signal message accepted (SDP offers with many tracks stay far below it); a larger
/// one removes its sender with close code 1009.
pub const MAX_SIGNAL_MESSAGE_BYTES: usize = 1 << 20;
/// Frames larger than this are not even read: the connection is dropped without a goodbye.
pub const MAX_FRAME_BYTES: usize = 4 * MAX_SIGNAL_MESSAGE_BYTES;

/// Why a frame could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0} bytes is over the {MAX_SIGNAL_MESSAGE_BYTES}-byte limit")]
    TooBig(usize),
}

/// How a client frames its signal messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Binary,
    Json,
}

/// Joins with `grant` and serves the participant on `socket`; with `auto_subscribe` off it
/// receives only the tracks it asks for.
pub async fn join(
    socket: WebSocket,
    hub: Arc<Hub>,
    grant: JoinGrant,
    auto_subscribe: bool,
    silence_limit: Duration,
) {
    let identity = grant.identity.clone();
    let membership = hub.join(grant, auto_subscribe);
    tracing::info!(participant = %membership.sid, %identity, "joined");
    run(socket, hub, membership, silence_limit).await;
}

/// Resumes the participant with `grant`'s identity on `socket`, or tells the client to rejoin
/// when there is nothing to resume.
pub async fn resume(socket: WebSocket, hub: Arc<Hub>, grant: JoinGrant, silence_limit: Duration) {
    match hub.resume(&grant) {
        Some(membership) => run(socket, hub, membership, silence_limit).await,
        None => {
            tracing::info!(identity = %grant.identity, "nothing to resume; asking for a rejoin");
            refuse_resume(socket).await;
        }
    }
}

/// Serves one participant until it leaves, is removed, or stays silent for `silence_limit`.
async fn run(socket: WebSocket, hub: Arc<Hub>, membership: Membership, silence_limit: Duration) {
    let _live = hub.session_started();
    let Membership { sid, epoch, outbox } = membership;
    let mut outbox = outbox;
    let (mut sink, mut stream) = socket.split();
    let mut framing = Framing::Binary;
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            () = tokio::time::sleep_until(last_heard + silence_limit) => {
                tracing::info!(participant = %sid, "signal connection silent; dropping it");
                let _ = sink.send(Message::Close(Some(close_frame(CloseReason::Silent)))).await;
                break proto::DisconnectReason::ConnectionTimeout;
            }
            delivery = outbox.recv() => match delivery {
                Some(Delivery::Signal(response)) => {
                    if sink.send(encode(&response, framing)).await.is_err() {
                        break proto::DisconnectReason::SignalClose;
                    }
                }
                Some(Delivery::Close(reason)) => {
                    let _ = sink.send(Message::Close(Some(close_frame(reason)))).await;
                    // The hub has already removed us and told the others.
                    tracing::info!(participant = %sid, ?reason, "removed");
                    return;
                }
                None => {
                    let _ = sink.send(Message::Close(Some(close_frame(CloseReason::TooSlow)))).await;
                    return;
                }
            },
            frame = stream.next() => match frame.inspect(|_| last_heard = Instant::now()) {
                Some(Ok(message @ (Message::Binary(_) | Message::Text(_)))) => {
                    match decode(message) {
                        Ok((request, used)) => {
                            framing = used;
                            if let Some(message) = request.message {
                                hub.handle(&sid, message);
                            }
                        }
                        Err(error) => reject(&hub, &sid, &error),
                    }
                }
                Some(Ok(Message::Close(_))) | None => break proto::DisconnectReason::ClientInitiated,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(error)) => {
                    tracing::info!(participant = %sid, %error, "signal connection failed");
                    break proto::DisconnectReason::SignalClose;
                }
            },
        }
    };
    hub.signal_lost(&sid, epoch, reason);
    tracing::info!(participant = %sid, ?reason, "signalling connection ended");
}

/// Answers a resume attempt for a session this server does not have with
/// `leave{STATE_MISMATCH, RECONNECT}`, so the client performs a full rejoin.
async fn refuse_resume(socket: WebSocket) {
    let leave = proto::SignalResponse {
        message: Some(room::leave(
            proto::DisconnectReason::StateMismatch,
            proto::leave_request::Action::Reconnect,
        )),
    };
    let (mut sink, _) = socket.split();
    let _ = sink.send(encode(&leave, Framing::Binary)).await;
    let _ = sink
        .send(Message::Close(Some(close_frame(CloseReason::Normal))))
        .await;
}

/// A frame that is not a usable signal message: the sender is removed with a clear reason;
/// nobody else is affected.
fn reject(hub: &Hub, sid: &str, error: &FrameError) {
    tracing::warn!(participant = %sid, %error, "unusable signal message");
    let close = match error {
        FrameError::Malformed(_) => CloseReason::MalformedMessage,
        FrameError::TooBig(_) => CloseReason::TooBig,
    };
    hub.eject(sid, proto::DisconnectReason::UnknownReason, close);
}

/// A request from a binary (protobuf) or text (protobuf JSON) frame, with the framing it used.
fn decode(message: Message) -> Result<(proto::SignalRequest, Framing), FrameError> {
    match message {
        Message::Binary(bytes) => Ok((parse_frame(&bytes, Framing::Binary)?, Framing::Binary)),
        Message::Text(text) => Ok((parse_frame(text.as_bytes(), Framing::Json)?, Framing::Json)),
        _ => Err(FrameError::Malformed("not a data frame".to_owned())),
    }
}

/// Parses one frame's bytes, enforcing the size limit; also the entry point of the signal fuzz
/// target.
pub fn parse_frame(bytes: &[u8], framing: Framing) -> Result<proto::SignalRequest, FrameError> {
    if bytes.len() > MAX_SIGNAL_MESSAGE_BYTES {
        return Err(FrameError::TooBig(bytes.len()));
    }
    match framing {
        Framing::Binary => proto::SignalRequest::decode(bytes)
            .map_err(|error| FrameError::Malformed(error.to_string())),
        Framing::Json => {
            serde_json::from_slice(bytes).map_err(|error| FrameError::Malformed(error.to_string()))
        }
    }
}

fn encode(response: &proto::SignalResponse, framing: Framing) -> Message {
    if framing == Framing::Json
        && let Ok(json) = serde_json::to_string(response)
    {
        return Message::Text(Utf8Bytes::from(json));
    }
    Message::Binary(response.encode_to_vec().into())
}

fn close_frame(reason: CloseReason) -> CloseFrame {
    let (code, text) = match reason {
        CloseReason::Normal => (1000, "leave"),
        CloseReason::MalformedMessage => (1007, "malformed signal message"),
        CloseReason::TooBig => (1009, "signal message too big"),
        CloseReason::TooSlow => (1008, "signal messages not read in time"),
        CloseReason::Silent => (1001, "no signal messages within the timeout"),
    };
    CloseFrame {
        code,
        reason: Utf8Bytes::from_static(text),
    }
}
