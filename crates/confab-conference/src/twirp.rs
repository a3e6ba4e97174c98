//! [`RoomControl`] for a LiveKit deployment (self-hosted cluster or LiveKit Cloud): LiveKit's
//! RoomService over Twirp, protobuf bodies, each call with a short-lived token signed by the
//! deployment's API key.

use std::collections::HashMap;

use livekit_protocol as proto;
use prost::Message;

use crate::control::{ControlError, RoomControl};
use crate::tokens::Signer;

/// How long a RoomService call may take before the server counts as unreachable.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A LiveKit server's RoomService, called with whatever token the caller holds (a host's
/// participant token with `roomAdmin`, or the server's own).
#[derive(Debug, Clone)]
pub struct RoomService {
    /// `http(s)://host[:port]`, from the `ws(s)://` URL clients use.
    base: String,
    http: reqwest::Client,
}

impl RoomService {
    /// `server_url` is the address clients connect to (`ws://`, `wss://`, `http://` or
    /// `https://`).
    pub fn new(server_url: &str) -> Result<Self, ControlError> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|error| ControlError::Unreachable(error.to_string()))?;
        Ok(Self {
            base: http_base(server_url),
            http,
        })
    }

    /// Mutes (or, where the server allows it, unmutes) a participant's track.
    pub async fn mute_published_track(
        &self,
        token: &str,
        request: proto::MuteRoomTrackRequest,
    ) -> Result<(), ControlError> {
        self.call::<_, proto::MuteRoomTrackResponse>("MutePublishedTrack", token, &request)
            .await
            .map(drop)
    }

    /// Takes a participant out of the room (`PARTICIPANT_REMOVED`).
    pub async fn remove_participant(
        &self,
        token: &str,
        room: &str,
        identity: &str,
    ) -> Result<(), ControlError> {
        let request = proto::RoomParticipantIdentity {
            room: room.to_owned(),
            identity: identity.to_owned(),
            ..Default::default()
        };
        self.call::<_, proto::RemoveParticipantResponse>("RemoveParticipant", token, &request)
            .await
            .map(drop)
    }

    /// One RoomService call. A LiveKit cluster answers 503 while the node holding a
    /// participant has not subscribed to its requests yet (just after a join), so a 503 is
    /// tried again after [`UNAVAILABLE_RETRIES`] growing pauses.
    pub async fn call<Request: Message, Response: Message + Default>(
        &self,
        method: &str,
        token: &str,
        request: &Request,
    ) -> Result<Response, ControlError> {
        let mut pause = std::time::Duration::from_millis(100);
        for _ in 0..UNAVAILABLE_RETRIES {
            match self.call_once(method, token, request).await {
                Err(Unavailable(why)) => {
                    tracing::debug!(%method, %why, "LiveKit unavailable; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 3;
                }
                Ok(answer) => return answer,
            }
        }
        match self.call_once(method, token, request).await {
            Err(Unavailable(why)) => Err(ControlError::Refused(format!("{method}: {why}"))),
            Ok(answer) => answer,
        }
    }

    async fn call_once<Request: Message, Response: Message + Default>(
        &self,
        method: &str,
        token: &str,
        request: &Request,
    ) -> Result<Result<Response, ControlError>, Unavailable> {
        let response = self
            .http
            .post(format!("{}/twirp/livekit.RoomService/{method}", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(|error| ControlError::Unreachable(describe(&error)));
        let response = match response {
            Ok(response) => response,
            Err(error) => return Ok(Err(error)),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Ok(Err(ControlError::Unreachable(describe(&error)))),
        };
        if status.is_success() {
            return Ok(Response::decode(body).map_err(|error| {
                ControlError::Refused(format!("invalid {method} answer: {error}"))
            }));
        }
        let error: TwirpErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Err(Unavailable(format!("{status} {}", error.msg)));
        }
        Ok(Err(match error.code.as_str() {
            "not_found" if error.msg.contains("participant") => ControlError::ParticipantNotFound,
            "not_found" => ControlError::RoomNotFound,
            _ => ControlError::Refused(format!("{method}: {status} {}", error.msg)),
        }))
    }
}

/// How often a 503 is tried again (after 0.1, 0.3 and 0.9 s).
const UNAVAILABLE_RETRIES: usize = 3;

/// A 503: the cluster could not reach the node that should answer.
struct Unavailable(String);

#[derive(Debug, Default, serde::Deserialize)]
struct TwirpErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    msg: String,
}

/// reqwest's error and its cause ("error sending request" alone says little).
fn describe(error: &reqwest::Error) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// `ws://h:p/x` → `http://h:p/x` (without a trailing slash).
pub fn http_base(server_url: &str) -> String {
    let url = server_url.trim().trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

/// [`RoomControl`] on a LiveKit deployment: its RoomService with the deployment's key.
#[derive(Debug, Clone)]
pub struct TwirpRooms {
    service: RoomService,
    signer: Signer,
}

impl TwirpRooms {
    pub fn new(server_url: &str, signer: Signer) -> Result<Self, ControlError> {
        Ok(Self {
            service: RoomService::new(server_url)?,
            signer,
        })
    }

    async fn call<Request: Message, Response: Message + Default>(
        &self,
        method: &str,
        room: &str,
        request: &Request,
    ) -> Result<Response, ControlError> {
        let token = self
            .signer
            .service_token(room)
            .map_err(|error| ControlError::Refused(error.to_string()))?;
        self.service.call(method, &token, request).await
    }
}

impl RoomControl for TwirpRooms {
    async fn create_room(&self, room: &str, metadata: &str) -> Result<(), ControlError> {
        let request = proto::CreateRoomRequest {
            name: room.to_owned(),
            metadata: metadata.to_owned(),
            // Empty rooms close after a while; the host watch ends hostless meetings sooner.
            empty_timeout: 300,
            departure_timeout: 60,
            ..Default::default()
        };
        self.call::<_, proto::Room>("CreateRoom", room, &request)
            .await
            .map(drop)
    }

    async fn update_room_metadata(&self, room: &str, metadata: &str) -> Result<(), ControlError> {
        let request = proto::UpdateRoomMetadataRequest {
            room: room.to_owned(),
            metadata: metadata.to_owned(),
        };
        self.call::<_, proto::Room>("UpdateRoomMetadata", room, &request)
            .await
            .map(drop)
    }

    async fn update_participant(
        &self,
        room: &str,
        identity: &str,
        permission: Option<proto::ParticipantPermission>,
        attributes: HashMap<String, String>,
    ) -> Result<(), ControlError> {
        let request = proto::UpdateParticipantRequest {
            room: room.to_owned(),
            identity: identity.to_owned(),
            permission,
            attributes,
            ..Default::default()
        };
        self.call::<_, proto::ParticipantInfo>("UpdateParticipant", room, &request)
            .await
            .map(drop)
    }

    async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), ControlError> {
        let token = self
            .signer
            .service_token(room)
            .map_err(|error| ControlError::Refused(error.to_string()))?;
        self.service
            .remove_participant(&token, room, identity)
            .await
    }

    async fn send_data(
        &self,
        room: &str,
        topic: &str,
        payload: Vec<u8>,
        to: Vec<String>,
    ) -> Result<(), ControlError> {
        let request = proto::SendDataRequest {
            room: room.to_owned(),
            data: payload,
            kind: proto::data_packet::Kind::Reliable as i32,
            destination_identities: to,
            topic: Some(topic.to_owned()),
            ..Default::default()
        };
        self.call::<_, proto::SendDataResponse>("SendData", room, &request)
            .await
            .map(drop)
    }

    async fn delete_room(&self, room: &str) -> Result<(), ControlError> {
        let request = proto::DeleteRoomRequest {
            room: room.to_owned(),
        };
        self.call::<_, proto::DeleteRoomResponse>("DeleteRoom", room, &request)
            .await
            .map(drop)
    }

    async fn participants(&self, room: &str) -> Result<Vec<String>, ControlError> {
        let request = proto::ListParticipantsRequest {
            room: room.to_owned(),
        };
        let response: proto::ListParticipantsResponse =
            self.call("ListParticipants", room, &request).await?;
        Ok(response
            .participants
            .into_iter()
            .map(|participant| participant.identity)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signalling_urls_become_http_bases() {
        assert_eq!(http_base("ws://127.0.0.1:7880"), "http://127.0.0.1:7880");
        assert_eq!(
            http_base("wss://x.livekit.cloud/"),
            "https://x.livekit.cloud"
        );
        assert_eq!(
            http_base("https://lk.example/prefix"),
            "https://lk.example/prefix"
        );
    }
}
