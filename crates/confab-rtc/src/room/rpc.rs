//! Remote procedure calls between participants, as LiveKit's SDKs make them (RPC version 1):
//! the caller sends an `RpcRequest` to one identity, the callee acknowledges at once
//! (`RpcAck`) and answers with an `RpcResponse` carrying the result or an `RpcError`.
//!
//! The caller's timeouts run in the caller's task ([`perform`]); the engine only routes
//! packets: it keeps the pending calls and the registered handlers ([`RpcState`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use livekit_protocol as proto;
use proto::data_packet::Value;
use tokio::sync::mpsc;

use super::RoomError;
use super::data::MAX_PAYLOAD_BYTES;
use super::engine::{self, Command};

/// The protocol version Confab speaks (the one every LiveKit SDK speaks).
pub const RPC_VERSION: u32 = 1;
/// How long the callee may take to acknowledge (LiveKit's SDKs allow 7 s for relays).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(7);
/// How long the handler may take unless the caller says otherwise (LiveKit's default).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest request or response payload, in bytes.
pub const MAX_RPC_PAYLOAD_BYTES: usize = MAX_PAYLOAD_BYTES;

/// An RPC failure: LiveKit's built-in codes, or a handler's own (code, message, data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RPC error {code}: {message}")]
pub struct RpcError {
    pub code: u32,
    pub message: String,
    pub data: String,
}

impl RpcError {
    pub const APPLICATION_ERROR: u32 = 1500;
    pub const CONNECTION_TIMEOUT: u32 = 1501;
    pub const RESPONSE_TIMEOUT: u32 = 1502;
    pub const RECIPIENT_DISCONNECTED: u32 = 1503;
    pub const RESPONSE_PAYLOAD_TOO_LARGE: u32 = 1504;
    pub const SEND_FAILED: u32 = 1505;
    pub const UNSUPPORTED_METHOD: u32 = 1400;
    pub const RECIPIENT_NOT_FOUND: u32 = 1401;
    pub const REQUEST_PAYLOAD_TOO_LARGE: u32 = 1402;
    pub const UNSUPPORTED_VERSION: u32 = 1404;

    /// A handler's own error, sent to the caller as it is.
    pub fn new(code: u32, message: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: data.into(),
        }
    }

    /// One of the built-in errors, with LiveKit's wording.
    pub fn built_in(code: u32) -> Self {
        let message = match code {
            Self::APPLICATION_ERROR => "Application error in method handler",
            Self::CONNECTION_TIMEOUT => "Connection timeout",
            Self::RESPONSE_TIMEOUT => "Response timeout",
            Self::RECIPIENT_DISCONNECTED => "Recipient disconnected",
            Self::RESPONSE_PAYLOAD_TOO_LARGE => "Response payload too large",
            Self::SEND_FAILED => "Failed to send",
            Self::UNSUPPORTED_METHOD => "Method not supported at destination",
            Self::RECIPIENT_NOT_FOUND => "Recipient not found",
            Self::REQUEST_PAYLOAD_TOO_LARGE => "Request payload too large",
            Self::UNSUPPORTED_VERSION => "Unsupported RPC version",
            _ => "RPC error",
        };
        Self::new(code, message, "")
    }

    fn from_proto(error: proto::RpcError) -> Self {
        Self::new(error.code, error.message, error.data)
    }

    fn to_proto(&self) -> proto::RpcError {
        proto::RpcError {
            code: self.code,
            message: self.message.clone(),
            data: self.data.clone(),
        }
    }
}

/// One incoming call, as a handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInvocation {
    pub request_id: String,
    pub caller_identity: String,
    pub payload: String,
    /// How long the caller waits for the answer.
    pub response_timeout: Duration,
}

/// What a handler returns.
pub type RpcFuture = Pin<Box<dyn Future<Output = Result<String, RpcError>> + Send>>;
/// A registered method.
#[derive(Clone)]
pub struct RpcHandler(Arc<dyn Fn(RpcInvocation) -> RpcFuture + Send + Sync>);

impl RpcHandler {
    pub fn new<F, Fut>(handler: F) -> Self
    where
        F: Fn(RpcInvocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, RpcError>> + Send + 'static,
    {
        Self(Arc::new(move |invocation| Box::pin(handler(invocation))))
    }

    fn call(&self, invocation: RpcInvocation) -> RpcFuture {
        (self.0)(invocation)
    }
}

impl std::fmt::Debug for RpcHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcHandler")
    }
}

/// What the engine tells a waiting caller.
#[derive(Debug)]
pub enum CallEvent {
    Acknowledged,
    Answered(Result<String, RpcError>),
}

/// The engine's share of RPC: registered methods and calls waiting for an answer.
#[derive(Default)]
pub struct RpcState {
    handlers: HashMap<String, RpcHandler>,
    calls: HashMap<String, PendingCall>,
}

impl std::fmt::Debug for RpcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcState")
            .field("methods", &self.handlers.keys().collect::<Vec<_>>())
            .field("calls", &self.calls.len())
            .finish()
    }
}

#[derive(Debug)]
struct PendingCall {
    destination: String,
    events: mpsc::Sender<CallEvent>,
}

/// A call for us: acknowledge it with `ack`, then run `handler` (or answer its error at once).
#[derive(Debug)]
pub struct IncomingCall {
    pub ack: proto::DataPacket,
    pub invocation: RpcInvocation,
    pub handler: Result<RpcHandler, RpcError>,
}

impl RpcState {
    pub fn register(&mut self, method: String, handler: Option<RpcHandler>) {
        match handler {
            Some(handler) => self.handlers.insert(method, handler),
            None => self.handlers.remove(&method),
        };
    }

    pub fn start_call(&mut self, id: String, destination: String, events: mpsc::Sender<CallEvent>) {
        self.calls.insert(
            id,
            PendingCall {
                destination,
                events,
            },
        );
    }

    /// The call could not be sent.
    pub fn fail_call(&mut self, id: &str, error: RpcError) {
        if let Some(call) = self.calls.remove(id) {
            let _ = call.events.try_send(CallEvent::Answered(Err(error)));
        }
    }

    /// `identity` left: its pending calls end with `RECIPIENT_DISCONNECTED`.
    pub fn participant_left(&mut self, identity: &str) {
        let gone: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, call)| call.destination == identity)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.fail_call(&id, RpcError::built_in(RpcError::RECIPIENT_DISCONNECTED));
        }
    }

    /// An RPC packet from `from`; a call for us is returned for the engine to run.
    pub fn on_packet(&mut self, from: &str, value: Value) -> Option<IncomingCall> {
        match value {
            Value::RpcAck(ack) => {
                if let Some(call) = self.calls.get(&ack.request_id) {
                    let _ = call.events.try_send(CallEvent::Acknowledged);
                }
                None
            }
            Value::RpcResponse(response) => {
                let call = self.calls.remove(&response.request_id)?;
                let result = match response.value {
                    Some(proto::rpc_response::Value::Payload(payload)) => Ok(payload),
                    Some(proto::rpc_response::Value::Error(error)) => {
                        Err(RpcError::from_proto(error))
                    }
                    _ => Err(RpcError::built_in(RpcError::UNSUPPORTED_VERSION)),
                };
                let _ = call.events.try_send(CallEvent::Answered(result));
                None
            }
            Value::RpcRequest(request) => {
                let handler = if request.version != RPC_VERSION
                    || (request.payload.is_empty() && !request.compressed_payload.is_empty())
                {
                    Err(RpcError::built_in(RpcError::UNSUPPORTED_VERSION))
                } else {
                    self.handlers
                        .get(&request.method)
                        .cloned()
                        .ok_or_else(|| RpcError::built_in(RpcError::UNSUPPORTED_METHOD))
                };
                let response_timeout = match request.response_timeout_ms {
                    0 => DEFAULT_RESPONSE_TIMEOUT,
                    ms => Duration::from_millis(u64::from(ms)),
                };
                Some(IncomingCall {
                    ack: addressed(
                        from,
                        Value::RpcAck(proto::RpcAck {
                            request_id: request.id.clone(),
                        }),
                    ),
                    invocation: RpcInvocation {
                        request_id: request.id,
                        caller_identity: from.to_owned(),
                        payload: request.payload,
                        response_timeout,
                    },
                    handler,
                })
            }
            _ => None,
        }
    }
}

/// A reliable packet for `destination` alone.
fn addressed(destination: &str, value: Value) -> proto::DataPacket {
    #[allow(deprecated)]
    proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        destination_identities: vec![destination.to_owned()],
        value: Some(value),
        ..Default::default()
    }
}

/// The answer to `invocation` as a packet for its caller.
pub fn response_packet(
    invocation: &RpcInvocation,
    result: Result<String, RpcError>,
) -> proto::DataPacket {
    let result = result.and_then(|payload| {
        if payload.len() > MAX_RPC_PAYLOAD_BYTES {
            Err(RpcError::built_in(RpcError::RESPONSE_PAYLOAD_TOO_LARGE))
        } else {
            Ok(payload)
        }
    });
    let value = match result {
        Ok(payload) => proto::rpc_response::Value::Payload(payload),
        Err(error) => proto::rpc_response::Value::Error(error.to_proto()),
    };
    addressed(
        &invocation.caller_identity,
        Value::RpcResponse(proto::RpcResponse {
            request_id: invocation.request_id.clone(),
            value: Some(value),
        }),
    )
}

/// Runs `handler` for `invocation` (bounded by the caller's timeout) and sends the answer.
pub async fn answer(
    commands: mpsc::Sender<Command>,
    invocation: RpcInvocation,
    handler: Result<RpcHandler, RpcError>,
) {
    let result = match handler {
        Err(error) => Err(error),
        Ok(handler) => {
            match tokio::time::timeout(
                invocation.response_timeout,
                handler.call(invocation.clone()),
            )
            .await
            {
                Ok(result) => result,
                // The caller has given up; nobody would read the answer.
                Err(_) => return,
            }
        }
    };
    let packet = response_packet(&invocation, result);
    if let Err(error) = engine::send_packet(&commands, packet, true).await {
        tracing::debug!(%error, "RPC response not sent");
    }
}

/// Calls `method` on `destination` and waits for the answer.
pub async fn perform(
    commands: &mpsc::Sender<Command>,
    destination: &str,
    method: &str,
    payload: String,
    response_timeout: Duration,
) -> Result<String, RpcError> {
    if payload.len() > MAX_RPC_PAYLOAD_BYTES {
        return Err(RpcError::built_in(RpcError::REQUEST_PAYLOAD_TOO_LARGE));
    }
    let id = super::new_id();
    let request = addressed(
        destination,
        Value::RpcRequest(proto::RpcRequest {
            id: id.clone(),
            method: method.to_owned(),
            payload,
            response_timeout_ms: u32::try_from(response_timeout.as_millis()).unwrap_or(u32::MAX),
            version: RPC_VERSION,
            compressed_payload: Vec::new(),
        }),
    );
    let (events_sender, mut events) = mpsc::channel(2);
    let call = Command::PerformRpc {
        id,
        destination: destination.to_owned(),
        packet: Box::new(request),
        events: events_sender,
    };
    engine::send_command(commands, call)
        .await
        .map_err(|_| RpcError::built_in(RpcError::SEND_FAILED))?;
    let first = tokio::time::timeout(ACK_TIMEOUT, events.recv())
        .await
        .map_err(|_| RpcError::built_in(RpcError::CONNECTION_TIMEOUT))?;
    match first {
        Some(CallEvent::Answered(result)) => result,
        Some(CallEvent::Acknowledged) => {
            match tokio::time::timeout(response_timeout, events.recv()).await {
                Ok(Some(CallEvent::Answered(result))) => result,
                Ok(Some(CallEvent::Acknowledged)) | Ok(None) => {
                    Err(RpcError::built_in(RpcError::SEND_FAILED))
                }
                Err(_) => Err(RpcError::built_in(RpcError::RESPONSE_TIMEOUT)),
            }
        }
        None => Err(RpcError::built_in(RpcError::SEND_FAILED)),
    }
}

/// Sending failed before the call reached the network.
pub fn send_failure(error: &RoomError) -> RpcError {
    let mut failure = RpcError::built_in(RpcError::SEND_FAILED);
    failure.data = error.to_string();
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, version: u32) -> Value {
        Value::RpcRequest(proto::RpcRequest {
            id: "r1".into(),
            method: method.into(),
            payload: "hi".into(),
            response_timeout_ms: 2_000,
            version,
            compressed_payload: Vec::new(),
        })
    }

    fn echo() -> RpcHandler {
        RpcHandler::new(|invocation: RpcInvocation| async move { Ok(invocation.payload) })
    }

    #[test]
    fn a_request_is_acknowledged_to_its_caller_and_finds_its_handler() {
        let mut state = RpcState::default();
        state.register("echo".into(), Some(echo()));
        let IncomingCall {
            ack,
            invocation,
            handler,
        } = state
            .on_packet("alice", request("echo", 1))
            .expect("a call");
        assert_eq!(ack.destination_identities, ["alice"]);
        assert!(matches!(ack.value, Some(Value::RpcAck(a)) if a.request_id == "r1"));
        assert_eq!(invocation.caller_identity, "alice");
        assert_eq!(invocation.response_timeout, Duration::from_secs(2));
        assert!(handler.is_ok());
    }

    #[test]
    fn unknown_methods_and_versions_are_refused_with_livekits_codes() {
        let mut state = RpcState::default();
        for (value, code) in [
            (request("nope", 1), RpcError::UNSUPPORTED_METHOD),
            (request("echo", 2), RpcError::UNSUPPORTED_VERSION),
        ] {
            let call = state.on_packet("alice", value).expect("a call");
            let handler = call.handler;
            assert_eq!(handler.err().map(|e| e.code), Some(code));
        }
    }

    #[test]
    fn answers_reach_their_call_and_departures_end_pending_calls() {
        let mut state = RpcState::default();
        let (events, mut received) = mpsc::channel(4);
        state.start_call("c1".into(), "bob".into(), events.clone());
        state.start_call("c2".into(), "carol".into(), events);
        state.on_packet(
            "bob",
            Value::RpcAck(proto::RpcAck {
                request_id: "c1".into(),
            }),
        );
        state.on_packet(
            "bob",
            Value::RpcResponse(proto::RpcResponse {
                request_id: "c1".into(),
                value: Some(proto::rpc_response::Value::Payload("done".into())),
            }),
        );
        state.participant_left("carol");
        assert!(matches!(received.try_recv(), Ok(CallEvent::Acknowledged)));
        assert!(matches!(received.try_recv(), Ok(CallEvent::Answered(Ok(p))) if p == "done"));
        assert!(matches!(
            received.try_recv(),
            Ok(CallEvent::Answered(Err(e))) if e.code == RpcError::RECIPIENT_DISCONNECTED
        ));
    }

    #[test]
    fn oversized_answers_become_an_error() {
        let invocation = RpcInvocation {
            request_id: "r1".into(),
            caller_identity: "alice".into(),
            payload: String::new(),
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        };
        let packet = response_packet(&invocation, Ok("x".repeat(MAX_RPC_PAYLOAD_BYTES + 1)));
        let Some(Value::RpcResponse(response)) = packet.value else {
            panic!("a response");
        };
        assert!(matches!(
            response.value,
            Some(proto::rpc_response::Value::Error(e)) if e.code == RpcError::RESPONSE_PAYLOAD_TOO_LARGE
        ));
    }
}
