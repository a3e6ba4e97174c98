//! LiveKit's RoomService over Twirp: `POST /twirp/livekit.RoomService/<Method>` with a protobuf
//! or JSON body, authorised by an API token whose grants match the method.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, Authenticator, token_from_request};
use crate::http::AppState;
use crate::hub::Hub;

pub const PATH: &str = "/twirp/livekit.RoomService/{method}";

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How a Twirp body is encoded (from its Content-Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// A Twirp error: `{"code": "...", "msg": "..."}` with the matching HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct TwirpError {
    pub code: &'static str,
    pub msg: String,
}

impl TwirpError {
    fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self.code {
            "invalid_argument" | "malformed" => StatusCode::BAD_REQUEST,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "permission_denied" => StatusCode::FORBIDDEN,
            "not_found" | "bad_route" => StatusCode::NOT_FOUND,
            "unimplemented" => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "msg": self.msg }).to_string();
        (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

pub async fn handle(
    State(state): State<AppState>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match dispatch(&state.hub, &state.auth, &method, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(%method, %error, "RoomService request refused");
            error.into_response()
        }
    }
}

fn dispatch(
    hub: &Arc<Hub>,
    auth: &Authenticator,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, TwirpError> {
    let encoding = encoding(headers)?;
    let claims = authenticate(auth, headers)?;
    match method {
        "CreateRoom" => {
            let request: proto::CreateRoomRequest = decode(encoding, body)?;
            require(claims.video.room_create, "roomCreate")?;
            if request.name.is_empty() {
                return Err(TwirpError::new("invalid_argument", "room name is required"));
            }
            encode(encoding, &hub.create_room(&request))
        }
        "ListRooms" => {
            let request: proto::ListRoomsRequest = decode(encoding, body)?;
            require(claims.video.room_list, "roomList")?;
            encode(
                encoding,
                &proto::ListRoomsResponse {
                    rooms: hub.list_rooms(&request.names),
                },
            )
        }
        "DeleteRoom" => {
            let request: proto::DeleteRoomRequest = decode(encoding, body)?;
            // LiveKit requires roomCreate (not roomAdmin) to delete.
            require(claims.video.room_create, "roomCreate")?;
            if !hub.delete_room(&request.room) {
                return Err(room_not_found());
            }
            encode(encoding, &proto::DeleteRoomResponse {})
        }
        "ListParticipants" => {
            let request: proto::ListParticipantsRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            let participants = hub
                .list_participants(&request.room)
                .ok_or_else(room_not_found)?;
            encode(encoding, &proto::ListParticipantsResponse { participants })
        }
        "GetParticipant" => {
            let request: proto::RoomParticipantIdentity = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            let info = hub
                .participant(&request.room, &request.identity)
                .ok_or_else(participant_not_found)?;
            encode(encoding, &info)
        }
        "RemoveParticipant" => {
            let request: proto::RoomParticipantIdentity = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            if !hub.remove_participant(&request.room, &request.identity) {
                return Err(participant_not_found());
            }
            encode(encoding, &proto::RemoveParticipantResponse {})
        }
        "UpdateRoomMetadata" => {
            let request: proto::UpdateRoomMetadataRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            let room = hub
                .update_room_metadata(&request.room, request.metadata)
                .ok_or_else(room_not_found)?;
            encode(encoding, &room)
        }
        "UpdateParticipant" => {
            let request: proto::UpdateParticipantRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            let info = hub
                .update_participant(request)
                .ok_or_else(participant_not_found)?;
            encode(encoding, &info)
        }
        "MutePublishedTrack" => {
            let request: proto::MuteRoomTrackRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            let track = hub
                .mute_published_track(&request)
                .ok_or_else(|| TwirpError::new("not_found", "track not found"))?;
            encode(
                encoding,
                &proto::MuteRoomTrackResponse { track: Some(track) },
            )
        }
        "SendData" => {
            let request: proto::SendDataRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            if !hub.send_data(&request) {
                return Err(room_not_found());
            }
            encode(encoding, &proto::SendDataResponse {})
        }
        "UpdateSubscriptions" => {
            let request: proto::UpdateSubscriptionsRequest = decode(encoding, body)?;
            require_admin(&claims, &request.room)?;
            if !hub.update_subscriptions(&request) {
                return Err(participant_not_found());
            }
            encode(encoding, &proto::UpdateSubscriptionsResponse {})
        }
        "ForwardParticipant" | "MoveParticipant" | "PerformRpc" => Err(TwirpError::new(
            "unimplemented",
            format!("{method} is not supported by this server yet"),
        )),
        _ => Err(TwirpError::new(
            "bad_route",
            format!("no method {method} on livekit.RoomService"),
        )),
    }
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, TwirpError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match essence {
        "application/protobuf" | "application/x-protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        other => Err(TwirpError::new(
            "bad_route",
            format!(
                "unexpected Content-Type {other:?}: use application/protobuf or application/json"
            ),
        )),
    }
}

fn authenticate(auth: &Authenticator, headers: &HeaderMap) -> Result<Claims, TwirpError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().map_err(|_| AuthError::MalformedHeader))
        .transpose()
        .map_err(unauthenticated)?;
    let token = token_from_request(header, None).map_err(unauthenticated)?;
    auth.verify(token).map_err(unauthenticated)
}

fn unauthenticated(error: AuthError) -> TwirpError {
    TwirpError::new("unauthenticated", error.to_string())
}

fn require(granted: bool, grant: &str) -> Result<(), TwirpError> {
    if granted {
        Ok(())
    } else {
        Err(TwirpError::new(
            "unauthenticated",
            format!("permissions denied: the token needs the {grant} grant"),
        ))
    }
}

/// Per-room administration needs `roomAdmin` for exactly that room.
fn require_admin(claims: &Claims, room: &str) -> Result<(), TwirpError> {
    require(
        claims.video.room_admin && claims.video.room == room,
        "roomAdmin for this room",
    )
}

fn room_not_found() -> TwirpError {
    TwirpError::new("not_found", "requested room does not exist")
}

fn participant_not_found() -> TwirpError {
    TwirpError::new("not_found", "participant does not exist")
}

/// A request body in either encoding; also the entry point of the Twirp fuzz target.
pub fn decode<T: Message + Default + DeserializeOwned>(
    encoding: Encoding,
    body: &[u8],
) -> Result<T, TwirpError> {
    match encoding {
        Encoding::Protobuf => T::decode(body)
            .map_err(|error| TwirpError::new("malformed", format!("invalid protobuf: {error}"))),
        // An empty JSON body is an empty request, as in Twirp.
        Encoding::Json if body.iter().all(u8::is_ascii_whitespace) => Ok(T::default()),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|error| TwirpError::new("malformed", format!("invalid JSON: {error}"))),
    }
}

fn encode<T: Message + Serialize>(encoding: Encoding, value: &T) -> Result<Response, TwirpError> {
    Ok(match encoding {
        Encoding::Protobuf => (
            [(header::CONTENT_TYPE, "application/protobuf")],
            value.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => {
            let body = serde_json::to_string(value)
                .map_err(|error| TwirpError::new("internal", error.to_string()))?;
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    })
}
