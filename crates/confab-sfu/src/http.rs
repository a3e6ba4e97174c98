//! HTTP routes: the `/rtc` signalling WebSocket and its validation endpoints.
//!
//! Tokens are verified before any upgrade, so a bad token gets a plain-text 401 with the reason
//! (what SDKs show people) and never a WebSocket.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::{AuthError, Authenticator, JoinGrant, token_from_request};
use crate::hub::Hub;
use crate::{session, twirp};

#[derive(Debug, Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub auth: Arc<Authenticator>,
    pub signal_timeout: std::time::Duration,
}

/// The body of the 404 for `/rtc/v1`. The browser SDK falls back to `/rtc` on a 404 unless the
/// body says the room does not exist, so it must never contain that phrase.
pub const V1_NOT_SUPPORTED: &str =
    "single peer connection signalling (/rtc/v1) is not available on this server; use /rtc";

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/rtc", get(rtc))
        .route("/rtc/validate", get(validate))
        .route("/rtc/v1", get(v1_not_supported))
        .route("/rtc/v1/validate", get(v1_not_supported))
        .route(
            twirp::PATH,
            post(twirp::handle).layer(DefaultBodyLimit::max(twirp::MAX_BODY_BYTES)),
        )
        .with_state(state)
}

type Params = Query<HashMap<String, String>>;

async fn rtc(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let grant = match authorize(&state.auth, &headers, &params) {
        Ok(grant) => grant,
        Err(error) => return auth_failure(&error),
    };
    let Ok(upgrade) = upgrade else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let flag = |name: &str| params.get(name).map(|v| v == "1" || v == "true");
    let resuming = flag("reconnect").unwrap_or(false);
    // LiveKit's `auto_subscribe=0`: the client picks what it subscribes to.
    let auto_subscribe = flag("auto_subscribe").unwrap_or(true);
    let hub = state.hub.clone();
    let timeout = state.signal_timeout;
    let upgrade = upgrade.max_message_size(session::MAX_FRAME_BYTES);
    if resuming {
        upgrade.on_upgrade(move |socket| session::resume(socket, hub, grant, timeout))
    } else {
        upgrade.on_upgrade(move |socket| session::join(socket, hub, grant, auto_subscribe, timeout))
    }
}

async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    match authorize(&state.auth, &headers, &params) {
        Ok(_) => (StatusCode::OK, cors(), "success").into_response(),
        Err(error) => auth_failure(&error),
    }
}

async fn v1_not_supported() -> Response {
    (StatusCode::NOT_FOUND, cors(), V1_NOT_SUPPORTED).into_response()
}

fn authorize(
    auth: &Authenticator,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<JoinGrant, AuthError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().map_err(|_| AuthError::MalformedHeader))
        .transpose()?;
    let token = token_from_request(header, params.get("access_token").map(String::as_str))?;
    auth.join_grant(token)
}

fn auth_failure(error: &AuthError) -> Response {
    tracing::info!(%error, "rejected a connection");
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    (status, cors(), error.to_string()).into_response()
}

/// Browsers call the validation endpoints cross-origin.
fn cors() -> [(header::HeaderName, &'static str); 1] {
    [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")]
}
