//! Access tokens: where a request carries one, which API key signed it, and what it grants.
//!
//! Every signalling connection and every API call is verified here before anything else
//! happens. Error messages match `livekit-server`'s so SDKs and people see familiar reasons; they
//! never contain the token or a secret.

use livekit_api::access_token::{
    AccessToken, AccessTokenError, Claims, TokenVerifier, VideoGrants,
};
use livekit_protocol as proto;

use crate::api_keys::ApiKeys;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no access token: send `Authorization: Bearer <token>` or the `access_token` parameter"
    )]
    Missing,
    #[error("invalid authorization header. Must start with Bearer ")]
    MalformedHeader,
    #[error("invalid API key")]
    UnknownKey,
    #[error("invalid authorization token: {0}")]
    InvalidToken(String),
    #[error("permissions denied")]
    PermissionDenied,
    #[error("the token has no identity")]
    MissingIdentity,
    #[error("no room name")]
    MissingRoom,
}

impl AuthError {
    /// The HTTP status `livekit-server` answers with for this failure.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingIdentity | Self::MissingRoom => 400,
            _ => 401,
        }
    }
}

/// Picks the token from a request: the `Authorization` header wins (Rust and Python SDKs), the
/// `access_token` query parameter is the fallback (browser SDK).
pub fn token_from_request<'a>(
    authorization: Option<&'a str>,
    access_token_param: Option<&'a str>,
) -> Result<&'a str, AuthError> {
    match authorization {
        Some(header) => header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::MalformedHeader),
        None => access_token_param
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Missing),
    }
}

/// What a verified token allows its holder to do in a room.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinGrant {
    /// The API key whose secret signed the token; refresh tokens are signed with it too.
    pub api_key: String,
    pub identity: String,
    pub name: String,
    pub room: String,
    pub metadata: String,
    pub attributes: std::collections::HashMap<String, String>,
    pub permission: proto::ParticipantPermission,
}

/// Verifies tokens against the server's API keys.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: ApiKeys,
}

impl Authenticator {
    pub fn new(keys: ApiKeys) -> Self {
        Self { keys }
    }

    /// Checks the signature (HS256 with the secret of the token's `iss` key), expiry and
    /// not-before, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        // The issuer selects the secret; nothing else from the unverified claims is used.
        let issuer = Claims::from_unverified(token)
            .map_err(|error| AuthError::InvalidToken(describe(&error)))?
            .iss;
        let secret = self.keys.secret(&issuer).ok_or(AuthError::UnknownKey)?;
        TokenVerifier::with_api_key(&issuer, secret)
            .verify(token)
            .map_err(|error| AuthError::InvalidToken(describe(&error)))
    }

    /// Verifies a token presented to join a room and extracts the grant.
    pub fn join_grant(&self, token: &str) -> Result<JoinGrant, AuthError> {
        let claims = self.verify(token)?;
        if !claims.video.room_join {
            return Err(AuthError::PermissionDenied);
        }
        if claims.sub.is_empty() {
            return Err(AuthError::MissingIdentity);
        }
        if claims.video.room.is_empty() {
            return Err(AuthError::MissingRoom);
        }
        let video = &claims.video;
        let permission = proto::ParticipantPermission {
            can_subscribe: video.can_subscribe(),
            can_publish: video.can_publish(),
            can_publish_data: video.can_publish_data(),
            can_publish_sources: video
                .can_publish_sources
                .iter()
                .filter_map(|source| track_source(source))
                .map(|source| source as i32)
                .collect(),
            hidden: video.hidden,
            can_update_metadata: video.can_update_own_metadata(),
            ..Default::default()
        };
        Ok(JoinGrant {
            api_key: claims.iss.clone(),
            identity: claims.sub.clone(),
            name: claims.name.clone(),
            room: video.room.clone(),
            metadata: claims.metadata.clone(),
            attributes: claims.attributes.clone(),
            permission,
        })
    }
}

impl Authenticator {
    /// A token for a participant's current state, signed with the key that admitted it: what
    /// the server sends as `refresh_token` after its permissions change, so a reconnect uses
    /// the new permissions rather than the original token's.
    pub fn refresh_token(
        &self,
        api_key: &str,
        room: &str,
        info: &proto::ParticipantInfo,
    ) -> Result<String, AuthError> {
        let secret = self.keys.secret(api_key).ok_or(AuthError::UnknownKey)?;
        let permission = info.permission.clone().unwrap_or_default();
        let grants = VideoGrants {
            room_join: true,
            room: room.to_owned(),
            can_publish: Some(permission.can_publish),
            can_subscribe: Some(permission.can_subscribe),
            can_publish_data: Some(permission.can_publish_data),
            can_publish_sources: permission
                .can_publish_sources
                .iter()
                .filter_map(|source| proto::TrackSource::try_from(*source).ok())
                .filter_map(source_name)
                .map(str::to_owned)
                .collect(),
            can_update_own_metadata: Some(permission.can_update_metadata),
            hidden: permission.hidden,
            ..Default::default()
        };
        AccessToken::with_api_key(api_key, secret)
            .with_identity(&info.identity)
            .with_name(&info.name)
            .with_metadata(&info.metadata)
            .with_attributes(info.attributes.clone())
            .with_ttl(REFRESH_TOKEN_TTL)
            .with_grants(grants)
            .to_jwt()
            .map_err(|error| AuthError::InvalidToken(describe(&error)))
    }
}

/// Refresh tokens outlive any reconnect a client attempts.
const REFRESH_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// LiveKit's `canPublishSources` names and the track sources they stand for.
const SOURCE_NAMES: [(&str, proto::TrackSource); 4] = [
    ("camera", proto::TrackSource::Camera),
    ("microphone", proto::TrackSource::Microphone),
    ("screen_share", proto::TrackSource::ScreenShare),
    ("screen_share_audio", proto::TrackSource::ScreenShareAudio),
];

/// `canPublishSources` names (lowercase, as in LiveKit's grants) to track sources.
fn track_source(name: &str) -> Option<proto::TrackSource> {
    SOURCE_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, source)| *source)
}

fn source_name(source: proto::TrackSource) -> Option<&'static str> {
    SOURCE_NAMES
        .iter()
        .find(|(_, known)| *known == source)
        .map(|(name, _)| *name)
}

/// A short reason for people; never the token itself.
fn describe(error: &AccessTokenError) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error {
        AccessTokenError::Encoding(jwt) => match jwt.kind() {
            ErrorKind::ExpiredSignature => "token is expired".into(),
            ErrorKind::ImmatureSignature => "token is not valid yet".into(),
            ErrorKind::InvalidSignature => "signature is invalid".into(),
            ErrorKind::InvalidIssuer => "issuer does not match the key".into(),
            ErrorKind::InvalidAlgorithm => "only HS256 tokens are accepted".into(),
            ErrorKind::MissingRequiredClaim(claim) => format!("missing claim `{claim}`"),
            _ => "malformed token".into(),
        },
        AccessTokenError::InvalidClaims(what) => format!("invalid claims: {what}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use livekit_api::access_token::{AccessToken, VideoGrants};

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn authenticator() -> Authenticator {
        Authenticator::new(ApiKeys::parse(&format!("APIkey: {SECRET}")).expect("keys"))
    }

    fn token(grants: VideoGrants, identity: &str) -> String {
        AccessToken::with_api_key("APIkey", SECRET)
            .with_identity(identity)
            .with_name("Ada")
            .with_grants(grants)
            .to_jwt()
            .expect("token")
    }

    fn join(room: &str) -> VideoGrants {
        VideoGrants {
            room_join: true,
            room: room.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_join_token_yields_identity_room_and_default_permissions() {
        let grant = authenticator()
            .join_grant(&token(join("standup"), "ada"))
            .expect("valid");
        assert_eq!(grant.identity, "ada");
        assert_eq!(grant.name, "Ada");
        assert_eq!(grant.room, "standup");
        assert!(grant.permission.can_publish);
        assert!(grant.permission.can_subscribe);
        assert!(grant.permission.can_publish_data);
        assert!(!grant.permission.can_update_metadata);
    }

    #[test]
    fn a_waiting_room_token_grants_nothing() {
        let grants = VideoGrants {
            can_publish: Some(false),
            can_subscribe: Some(false),
            can_publish_data: Some(false),
            ..join("standup")
        };
        let grant = authenticator()
            .join_grant(&token(grants, "guest"))
            .expect("valid");
        assert!(!grant.permission.can_publish);
        assert!(!grant.permission.can_subscribe);
        assert!(!grant.permission.can_publish_data);
    }

    #[test]
    fn publish_sources_are_mapped() {
        let grants = VideoGrants {
            can_publish_sources: vec!["microphone".into(), "screen_share".into()],
            ..join("r")
        };
        let grant = authenticator()
            .join_grant(&token(grants, "a"))
            .expect("valid");
        assert_eq!(
            grant.permission.can_publish_sources,
            vec![
                proto::TrackSource::Microphone as i32,
                proto::TrackSource::ScreenShare as i32
            ]
        );
    }

    #[test]
    fn rejects_a_wrong_signature() {
        let forged = AccessToken::with_api_key("APIkey", "another-secret-another-secret-xx")
            .with_identity("mallory")
            .with_grants(join("r"))
            .to_jwt()
            .expect("token");
        assert_eq!(
            authenticator().join_grant(&forged),
            Err(AuthError::InvalidToken("signature is invalid".into()))
        );
    }

    #[test]
    fn rejects_an_unknown_key() {
        let other = AccessToken::with_api_key("APIother", SECRET)
            .with_identity("a")
            .with_grants(join("r"))
            .to_jwt()
            .expect("token");
        assert_eq!(
            authenticator().join_grant(&other),
            Err(AuthError::UnknownKey)
        );
    }

    /// Claims valid for an hour from now.
    fn claims_for(video: VideoGrants, identity: &str) -> Claims {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        Claims {
            exp: usize::try_from(now + 3_600).expect("fits"),
            iss: "APIkey".into(),
            sub: identity.into(),
            video,
            ..Default::default()
        }
    }

    fn sign(claims: Claims) -> String {
        // Creating any token installs livekit-token's HS256 provider for jsonwebtoken.
        let _ = token(join("r"), "warm-up");
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("encode")
    }

    #[test]
    fn rejects_an_expired_token() {
        let expired = sign(Claims {
            exp: 1_000,
            ..claims_for(join("r"), "a")
        });
        assert_eq!(
            authenticator().join_grant(&expired),
            Err(AuthError::InvalidToken("token is expired".into()))
        );
    }

    #[test]
    fn rejects_tokens_without_join_identity_or_room() {
        let auth = authenticator();
        let no_join = VideoGrants {
            room: "r".into(),
            ..Default::default()
        };
        assert_eq!(
            auth.join_grant(&token(no_join, "a")),
            Err(AuthError::PermissionDenied)
        );
        // LiveKit's token builder refuses these, so sign the claims directly.
        assert_eq!(
            auth.join_grant(&sign(claims_for(join("r"), ""))),
            Err(AuthError::MissingIdentity)
        );
        assert_eq!(
            auth.join_grant(&sign(claims_for(join(""), "a"))),
            Err(AuthError::MissingRoom)
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            authenticator().join_grant("not.a.jwt"),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn header_wins_over_query_and_must_be_bearer() {
        assert_eq!(token_from_request(Some("Bearer abc"), Some("q")), Ok("abc"));
        assert_eq!(token_from_request(None, Some("q")), Ok("q"));
        assert_eq!(
            token_from_request(Some("Basic abc"), Some("q")),
            Err(AuthError::MalformedHeader)
        );
        assert_eq!(token_from_request(None, None), Err(AuthError::Missing));
        assert_eq!(token_from_request(None, Some("")), Err(AuthError::Missing));
    }

    #[test]
    fn refresh_tokens_carry_the_current_permissions_and_verify() {
        let auth = authenticator();
        let info = proto::ParticipantInfo {
            identity: "ada".into(),
            name: "Ada".into(),
            permission: Some(proto::ParticipantPermission {
                can_subscribe: true,
                can_publish: true,
                can_publish_sources: vec![proto::TrackSource::Microphone as i32],
                ..Default::default()
            }),
            ..Default::default()
        };
        let token = auth
            .refresh_token("APIkey", "standup", &info)
            .expect("signed");
        let grant = auth.join_grant(&token).expect("verifies");
        assert_eq!(
            (grant.identity.as_str(), grant.room.as_str()),
            ("ada", "standup")
        );
        assert!(grant.permission.can_publish && !grant.permission.can_publish_data);
        assert_eq!(
            grant.permission.can_publish_sources,
            vec![proto::TrackSource::Microphone as i32]
        );
        assert!(auth.refresh_token("APIother", "standup", &info).is_err());
    }
}
