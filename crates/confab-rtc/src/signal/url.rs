//! The signalling URL a LiveKit server expects: `<ws|wss>://host[/prefix]/rtc?…`.

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
}

impl Default for JoinQuery {
    fn default() -> Self {
        Self {
            auto_subscribe: true,
            adaptive_stream: false,
            resume_sid: None,
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

    #[test]
    fn schemes_map_to_websocket_and_prefixes_are_kept() {
        let query = JoinQuery::default();
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
            ..JoinQuery::default()
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
