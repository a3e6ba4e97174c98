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
    fn unusable_urls_are_refused_with_a_reason() {
        for bad in ["meet.example.org", "ftp://host", "ws://", "ws:// /x"] {
            let error = rtc_url(bad, &JoinQuery::default()).expect_err(bad);
            assert!(matches!(error, SignalError::BadUrl(_)), "{bad}: {error:?}");
        }
    }
}
