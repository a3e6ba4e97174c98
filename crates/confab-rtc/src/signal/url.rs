//! The signalling URL a LiveKit server expects: `<ws|wss>://host[/prefix]/rtc?…` for two
//! peer connections, or `…/rtc/v1?join_request=…` for one (LiveKit 1.9+).

use base64::Engine as _;
use livekit_protocol as proto;
use prost::Message as _;

use super::SignalError;

/// The protocol version Confab speaks (LiveKit's 1.8+ servers and SDKs use 16/17).
pub const PROTOCOL_VERSION: u32 = 17;

/// What the query string carries besides the protocol and SDK fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinQuery {
    pub auto_subscribe: bool,
    pub adaptive_stream: bool,
    /// Set to resume an existing session (`reconnect=1&sid=…`).
    pub resume_sid: Option<String>,
    /// One peer connection for both directions (`/rtc/v1`), where the client makes every
    /// offer; otherwise LiveKit's publisher and subscriber connections (`/rtc`).
    pub single_peer_connection: bool,
}

impl Default for JoinQuery {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            adaptive_stream: false,
            resume_sid: None,
            single_peer_connection: true,
        }
    }
}

/// `server` as given by a user or an invitation (`ws://`, `wss://`, `http://`, `https://`,
/// optionally with a path prefix) turned into the `/rtc` WebSocket URL with `query`. The token
/// is not part of it: it travels in the `Authorization` header, so it never lands in logs that
/// record URLs.
pub fn rtc_url(server: &str, query: &JoinQuery) -> Result<String, SignalError> {
    let ServerUrl {
        scheme,
        host,
        prefix,
    } = ServerUrl::parse(server)?;
    if query.single_peer_connection {
        let join_request = base64::engine::general_purpose::URL_SAFE.encode(
            proto::WrappedJoinRequest {
                compression: proto::wrapped_join_request::Compression::None as i32,
                join_request: join_request(query).encode_to_vec(),
            }
            .encode_to_vec(),
        );
        return Ok(format!(
            "{scheme}://{host}{prefix}/rtc/v1?join_request={join_request}"
        ));
    }
    let mut url = format!(
        "{scheme}://{host}{prefix}/rtc?protocol={PROTOCOL_VERSION}&sdk=rust&version={}&auto_subscribe={}&adaptive_stream={}",
        env!("CARGO_PKG_VERSION"),
        u8::from(query.auto_subscribe),
        u8::from(query.adaptive_stream),
    );
    if let Some(sid) = &query.resume_sid {
        url.push_str("&reconnect=1&sid=");
        url.push_str(&percent_encode(sid));
    }
    Ok(url)
}

/// What `/rtc/v1` takes instead of query parameters. The first offer is not part of it: the
/// engine sends it once the server has answered the join.
fn join_request(query: &JoinQuery) -> proto::JoinRequest {
    proto::JoinRequest {
        client_info: Some(proto::ClientInfo {
            sdk: proto::client_info::Sdk::Rust as i32,
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: PROTOCOL_VERSION as i32,
            os: std::env::consts::OS.into(),
            ..Default::default()
        }),
        connection_settings: Some(proto::ConnectionSettings {
            auto_subscribe: query.auto_subscribe,
            adaptive_stream: query.adaptive_stream,
            ..Default::default()
        }),
        reconnect: query.resume_sid.is_some(),
        participant_sid: query.resume_sid.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// A server URL taken apart.
struct ServerUrl<'a> {
    scheme: &'static str,
    /// `host[:port]`.
    host: &'a str,
    /// The path prefix with a leading `/`, or empty.
    prefix: String,
}

impl<'a> ServerUrl<'a> {
    fn parse(server: &'a str) -> Result<Self, SignalError> {
        let trimmed = server.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| SignalError::BadUrl(format!("{trimmed:?} has no scheme")))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            other => {
                return Err(SignalError::BadUrl(format!(
                    "unsupported scheme {other:?} (use ws://, wss://, http:// or https://)"
                )));
            }
        };
        let without_query = rest.split(['?', '#']).next().unwrap_or(rest);
        let (host, path) = match without_query.split_once('/') {
            Some((host, path)) => (host, path.trim_end_matches('/')),
            None => (without_query, ""),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(SignalError::BadUrl(format!("{trimmed:?} has no host")));
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        Ok(Self {
            scheme,
            host,
            prefix,
        })
    }
}

/// `host:port` of `server`, with the scheme's default port when none is given (for finding
/// the local address that routes to it).
pub fn server_host_port(server: &str) -> Result<String, SignalError> {
    let url = ServerUrl::parse(server)?;
    let has_port = match url.host.rsplit_once(':') {
        // `[::1]:7880` has a port, `[::1]` does not.
        Some((_, port)) => !port.ends_with(']') && port.parse::<u16>().is_ok(),
        None => false,
    };
    if has_port {
        return Ok(url.host.to_owned());
    }
    let port = if url.scheme == "wss" { 443 } else { 80 };
    Ok(format!("{}:{port}", url.host))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_connections() -> JoinQuery {
        JoinQuery {
            single_peer_connection: false,
            ..JoinQuery::default()
        }
    }

    /// The join request a `/rtc/v1` URL carries, decoded as the server decodes it.
    fn decoded_join_request(url: &str) -> proto::JoinRequest {
        let (_, encoded) = url.split_once("?join_request=").expect("join_request");
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(encoded)
            .expect("base64url");
        let wrapped = proto::WrappedJoinRequest::decode(bytes.as_slice()).expect("wrapped");
        assert_eq!(
            wrapped.compression(),
            proto::wrapped_join_request::Compression::None
        );
        proto::JoinRequest::decode(wrapped.join_request.as_slice()).expect("join request")
    }

    #[test]
    fn one_connection_sends_its_settings_as_a_join_request() {
        let url = rtc_url("https://meet.example.org/livekit/", &JoinQuery::default()).expect("url");
        assert!(
            url.starts_with("wss://meet.example.org/livekit/rtc/v1?join_request="),
            "{url}"
        );
        let request = decoded_join_request(&url);
        let settings = request.connection_settings.expect("settings");
        assert!(settings.auto_subscribe);
        assert!(!settings.adaptive_stream);
        let client = request.client_info.expect("client info");
        assert_eq!(client.protocol, PROTOCOL_VERSION as i32);
        assert_eq!(client.sdk(), proto::client_info::Sdk::Rust);
        assert!(!request.reconnect);
        assert!(request.participant_sid.is_empty());
    }

    #[test]
    fn one_connection_resumes_with_the_session_id_in_the_join_request() {
        let query = JoinQuery {
            resume_sid: Some("PA_a b&c".into()),
            auto_subscribe: false,
            ..JoinQuery::default()
        };
        let request = decoded_join_request(&rtc_url("ws://h", &query).expect("url"));
        assert!(request.reconnect);
        assert_eq!(request.participant_sid, "PA_a b&c");
        assert!(
            !request
                .connection_settings
                .expect("settings")
                .auto_subscribe
        );
    }

    #[test]
    fn schemes_map_to_websocket_and_prefixes_are_kept() {
        let query = two_connections();
        let url = rtc_url("https://meet.example.org/livekit/", &query).expect("url");
        assert!(
            url.starts_with("wss://meet.example.org/livekit/rtc?protocol=17&sdk=rust"),
            "{url}"
        );
        assert!(url.contains("&auto_subscribe=1&adaptive_stream=0"), "{url}");
        let url = rtc_url("ws://127.0.0.1:7880", &query).expect("url");
        assert!(url.starts_with("ws://127.0.0.1:7880/rtc?"), "{url}");
        let url = rtc_url("HTTP://host:7880?x=1", &query).expect("url");
        assert!(url.starts_with("ws://host:7880/rtc?protocol"), "{url}");
    }

    #[test]
    fn resume_adds_the_session_id_encoded() {
        let query = JoinQuery {
            resume_sid: Some("PA_a b&c".into()),
            ..two_connections()
        };
        let url = rtc_url("ws://h", &query).expect("url");
        assert!(url.ends_with("&reconnect=1&sid=PA_a%20b%26c"), "{url}");
    }

    #[test]
    fn host_and_port_default_to_the_schemes_port() {
        assert_eq!(
            server_host_port("ws://127.0.0.1:7880/x").expect("url"),
            "127.0.0.1:7880"
        );
        assert_eq!(
            server_host_port("https://meet.example.org").expect("url"),
            "meet.example.org:443"
        );
        assert_eq!(server_host_port("ws://[::1]").expect("url"), "[::1]:80");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for bad in ["meet.example.org", "ftp://host", "ws://", "ws:// /x"] {
            let error = rtc_url(bad, &JoinQuery::default()).expect_err(bad);
            assert!(matches!(error, SignalError::BadUrl(_)), "{bad}: {error:?}");
        }
    }
}
