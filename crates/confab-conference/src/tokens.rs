//! Access tokens the conference API hands out, and the callers it recognises from theirs.
//!
//! Every token is a LiveKit access token signed with the deployment's API key, so the SFU (ours
//! or LiveKit's) verifies it on connection and enforces its grants. A waiting guest's token
//! grants nothing (no publish, subscribe or data) and hides the guest; admission changes the
//! participant's permissions in the room, never by handing the guest a new token.

use std::time::Duration;

use livekit_api::access_token::{
    AccessToken, AccessTokenError, Claims, TokenVerifier, VideoGrants,
};
use livekit_protocol as proto;

use crate::models::Role;

/// Meetings rarely run longer; a reconnect after that uses the SFU's refresh token.
pub const TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// The deployment's API key and secret: signs and verifies every token.
#[derive(Clone)]
pub struct Signer {
    key: String,
    secret: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Signer")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no access token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the access token is not valid: {0}")]
    Invalid(String),
    #[error("this needs the {0} grant")]
    MissingGrant(&'static str),
}

/// Who called, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub identity: String,
    /// The room the token is for (empty for a room-less API token).
    pub room: String,
    pub room_admin: bool,
    pub room_create: bool,
}

/// What a participant may do in the room: a member's rights, or nothing at all while waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Member,
    Waiting,
}

impl Standing {
    /// The permission the SFU should hold for the participant.
    pub fn permission(self) -> proto::ParticipantPermission {
        let member = self == Self::Member;
        proto::ParticipantPermission {
            can_subscribe: member,
            can_publish: member,
            can_publish_data: member,
            can_update_metadata: member,
            hidden: !member,
            ..Default::default()
        }
    }
}

impl Signer {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// A participant's token for `room`. Hosts also get `roomAdmin` for the room, so the same
    /// token works for the host routes and LiveKit's RoomService.
    pub fn participant_token(
        &self,
        room: &str,
        identity: &str,
        name: &str,
        role: Role,
        standing: Standing,
    ) -> Result<String, TokenError> {
        let permission = standing.permission();
        let grants = VideoGrants {
            room_join: true,
            room: room.to_owned(),
            room_admin: role.is_host(),
            can_publish: Some(permission.can_publish),
            can_subscribe: Some(permission.can_subscribe),
            can_publish_data: Some(permission.can_publish_data),
            can_update_own_metadata: Some(permission.can_update_metadata),
            hidden: permission.hidden,
            ..Default::default()
        };
        AccessToken::with_api_key(&self.key, &self.secret)
            .with_identity(identity)
            .with_name(name)
            .with_ttl(TOKEN_TTL)
            .with_grants(grants)
            .to_jwt()
            .map_err(|error| TokenError::Invalid(error.to_string()))
    }

    /// A short-lived token for the server's own RoomService calls about `room` (empty: calls
    /// about no one room, such as creating it).
    pub fn service_token(&self, room: &str) -> Result<String, TokenError> {
        let grants = VideoGrants {
            room_create: true,
            room_list: true,
            room_admin: true,
            room: room.to_owned(),
            ..Default::default()
        };
        AccessToken::with_api_key(&self.key, &self.secret)
            .with_ttl(Duration::from_secs(600))
            .with_grants(grants)
            .to_jwt()
            .map_err(|error| TokenError::Invalid(error.to_string()))
    }

    /// Verifies a bearer token (signature, expiry) signed with this key.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let claims: Claims = TokenVerifier::with_api_key(&self.key, &self.secret)
            .verify(token)
            .map_err(|error| TokenError::Invalid(describe(&error)))?;
        Ok(Caller {
            identity: claims.sub,
            room: claims.video.room,
            room_admin: claims.video.room_admin,
            room_create: claims.video.room_create,
        })
    }
}

/// The token in an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, TokenError> {
    header
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(TokenError::Missing)
}

/// A reason for people, never the token.
fn describe(error: &AccessTokenError) -> String {
    match error {
        AccessTokenError::Encoding(jwt) => match jwt.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "it has expired".into(),
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "the signature is wrong".into(),
            _ => "it is malformed".into(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new("APIkey", "0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_host_token_carries_admin_for_its_room() {
        let signer = signer();
        let token = signer
            .participant_token("room-1", "host-1", "Ada", Role::Host, Standing::Member)
            .expect("token");
        let caller = signer.verify(&token).expect("verify");
        assert_eq!(caller.identity, "host-1");
        assert_eq!(caller.room, "room-1");
        assert!(caller.room_admin);
        let claims = Claims::from_unverified(&token).expect("claims");
        assert_eq!(claims.name, "Ada");
    }

    #[test]
    fn a_waiting_guest_token_grants_nothing_and_hides_the_guest() {
        let token = signer()
            .participant_token("room-1", "g1", "Bob", Role::Guest, Standing::Waiting)
            .expect("token");
        let claims = Claims::from_unverified(&token).expect("claims");
        let video = claims.video;
        assert!(!video.room_admin);
        assert!(!video.can_publish() && !video.can_subscribe() && !video.can_publish_data());
        assert!(!video.can_update_own_metadata());
        assert!(video.hidden);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = Signer::new("APIkey", "another-secret-another-secret-xx");
        let token = other
            .participant_token("room-1", "host-1", "Eve", Role::Host, Standing::Member)
            .expect("token");
        assert!(matches!(
            signer().verify(&token),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            signer().verify("garbage"),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn the_secret_is_never_in_debug_output() {
        assert!(!format!("{:?}", signer()).contains("0123456789"));
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("abc")), Err(TokenError::Missing));
        assert_eq!(bearer(Some("Bearer  ")), Err(TokenError::Missing));
        assert_eq!(bearer(None), Err(TokenError::Missing));
    }
}
