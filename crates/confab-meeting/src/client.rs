//! The conference API from the app's side: one method per route of `/api/conference/`, each
//! failure a [`ClientError`] that says what the server said.

use std::time::Duration;

use confab_conference::models::{
    AdmitResponse, CreateRequest, CreateResponse, ErrorBody, GeneratedCode, GuestRequest,
    HostToken, JoinRequest, KnockResponse, PromoteRequest, RoomTicket, SettingsChange, WaitingList,
};
use confab_ipc::MeetingCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request that gets no answer within this long failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: its kind (`no-such-meeting`, `locked`,
    /// `rate-limited`, …) and its message for people.
    #[error("{message}")]
    Refused {
        status: u16,
        kind: String,
        message: String,
        /// For `rate-limited`: when to try again.
        retry_after: Option<Duration>,
    },
    #[error("the meeting server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the meeting server answered something unexpected: {0}")]
    Malformed(String),
    #[error("{0} is not a meeting server address")]
    BadAddress(String),
}

impl ClientError {
    pub fn kind(&self) -> Option<&str> {
        match self {
            Self::Refused { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// A meeting server's conference API (the embedded host of another app, or `confab server`).
#[derive(Debug, Clone)]
pub struct ConferenceClient {
    /// `http(s)://host[:port]` without a trailing slash.
    base: String,
    http: reqwest::Client,
}

impl ConferenceClient {
    /// `address` is `host:port` (plain HTTP, as on a LAN) or an `http(s)://` URL.
    pub fn new(address: &str) -> Result<Self, ClientError> {
        let address = address.trim();
        let (scheme, rest) = match address.split_once("://") {
            Some(("http" | "ws", rest)) => ("http", rest),
            Some(("https" | "wss", rest)) => ("https", rest),
            Some(_) => return Err(ClientError::BadAddress(address.to_owned())),
            None => ("http", address),
        };
        let base = format!("{scheme}://{}", rest.trim_end_matches('/'));
        let has_host = reqwest::Url::parse(&base)
            .ok()
            .and_then(|url| url.host_str().map(|host| !host.is_empty()))
            .unwrap_or(false);
        if !has_host {
            return Err(ClientError::BadAddress(address.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| ClientError::Unreachable(error.to_string()))?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Opens a meeting; `create_token` is an API token with `roomCreate` for this server.
    pub async fn create(
        &self,
        create_token: &str,
        request: &CreateRequest,
    ) -> Result<CreateResponse, ClientError> {
        self.post("create", Some(create_token), request).await
    }

    pub async fn generate_code(&self, create_token: &str) -> Result<GeneratedCode, ClientError> {
        self.post("generate-code", Some(create_token), &()).await
    }

    /// Asks to join the meeting with `code` as `name`.
    pub async fn join(&self, code: &MeetingCode, name: &str) -> Result<RoomTicket, ClientError> {
        let request = JoinRequest {
            code: code.to_string(),
            name: name.to_owned(),
        };
        self.post("join", None, &request).await
    }

    /// A waiting guest's "still here"; says whether it was let in.
    pub async fn knock(&self, token: &str) -> Result<KnockResponse, ClientError> {
        self.post("knock", Some(token), &()).await
    }

    pub async fn waiting(&self, host_token: &str) -> Result<WaitingList, ClientError> {
        self.send(self.http.get(self.url("waiting")), Some(host_token))
            .await
    }

    /// Lets one guest in, or everyone waiting when `identity` is None.
    pub async fn admit(
        &self,
        host_token: &str,
        identity: Option<&str>,
    ) -> Result<AdmitResponse, ClientError> {
        let request = GuestRequest {
            identity: identity.map(str::to_owned),
            all: identity.is_none(),
        };
        self.post("admit", Some(host_token), &request).await
    }

    pub async fn deny(&self, host_token: &str, identity: &str) -> Result<(), ClientError> {
        let request = GuestRequest {
            identity: Some(identity.to_owned()),
            all: false,
        };
        self.post::<_, serde_json::Value>("deny", Some(host_token), &request)
            .await
            .map(drop)
    }

    pub async fn change_settings(
        &self,
        host_token: &str,
        change: SettingsChange,
    ) -> Result<WaitingList, ClientError> {
        self.post("settings", Some(host_token), &change).await
    }

    pub async fn promote(&self, host_token: &str, identity: &str) -> Result<(), ClientError> {
        let request = PromoteRequest {
            identity: identity.to_owned(),
        };
        self.post::<_, serde_json::Value>("promote", Some(host_token), &request)
            .await
            .map(drop)
    }

    /// A co-host's token with the host's rights, for its participant token.
    pub async fn host_token(&self, token: &str) -> Result<HostToken, ClientError> {
        self.post("host-token", Some(token), &()).await
    }

    /// Ends the meeting for everyone.
    pub async fn end(&self, host_token: &str) -> Result<(), ClientError> {
        self.post::<_, serde_json::Value>("end", Some(host_token), &())
            .await
            .map(drop)
    }

    fn url(&self, route: &str) -> String {
        format!(
            "{}{}/{route}",
            self.base,
            confab_conference::service::PREFIX
        )
    }

    async fn post<Request: Serialize, Response: DeserializeOwned>(
        &self,
        route: &str,
        token: Option<&str>,
        body: &Request,
    ) -> Result<Response, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Malformed(e.to_string()))?;
        let request = self
            .http
            .post(self.url(route))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request, token).await
    }

    async fn send<Response: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> Result<Response, ClientError> {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|error| ClientError::Unreachable(describe(&error)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .map(Duration::from_secs);
        let body = response
            .bytes()
            .await
            .map_err(|error| ClientError::Unreachable(describe(&error)))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|error| ClientError::Malformed(error.to_string()));
        }
        let error: ErrorBody = serde_json::from_slice(&body).map_err(|_| {
            ClientError::Malformed(format!(
                "status {status} with a body that is not an error: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        })?;
        Err(ClientError::Refused {
            status: status.as_u16(),
            kind: error.error,
            message: error.message,
            retry_after,
        })
    }
}

fn describe(error: &reqwest::Error) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_http_bases() {
        let base = |address: &str| ConferenceClient::new(address).expect("address").base;
        assert_eq!(base("192.168.1.5:7880"), "http://192.168.1.5:7880");
        assert_eq!(
            base("https://meet.example.com/"),
            "https://meet.example.com"
        );
        assert_eq!(base("ws://127.0.0.1:7880"), "http://127.0.0.1:7880");
        assert!(ConferenceClient::new("  ").is_err());
        assert!(ConferenceClient::new("http://").is_err());
        assert!(ConferenceClient::new("ftp://host").is_err());
    }
}
