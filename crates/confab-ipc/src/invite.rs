//! Invitation links: `confab://join/<code>?host=<address>`. The host part is a hint (the
//! inviting app's address); without it the code alone is looked up on the LAN.

use crate::{MeetingCode, MeetingCodeError};

pub const SCHEME: &str = "confab://";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub code: MeetingCode,
    /// The meeting server's `host:port` or URL.
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("not a Confab invitation (it should start with confab://join/)")]
    NotAnInvite,
    #[error(transparent)]
    Code(#[from] MeetingCodeError),
    #[error("the invitation's host is not an address")]
    BadHost,
}

impl Invite {
    pub fn link(&self) -> String {
        match &self.host {
            Some(host) => format!("{SCHEME}join/{}?host={host}", self.code),
            None => format!("{SCHEME}join/{}", self.code),
        }
    }

    /// Reads a link, or a bare code as people also paste.
    pub fn parse(text: &str) -> Result<Self, InviteError> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix(SCHEME) else {
            return if text.contains("://") {
                Err(InviteError::NotAnInvite)
            } else {
                Ok(Self {
                    code: MeetingCode::parse(text)?,
                    host: None,
                })
            };
        };
        let rest = rest.strip_prefix("join/").ok_or(InviteError::NotAnInvite)?;
        let (code, query) = rest.split_once('?').unwrap_or((rest, ""));
        let code = MeetingCode::parse(code.trim_end_matches('/'))?;
        let host = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("host="))
            .map(str::to_owned);
        if host
            .as_deref()
            .is_some_and(|host| host.is_empty() || host.contains(char::is_whitespace))
        {
            return Err(InviteError::BadHost);
        }
        Ok(Self { code, host })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip() {
        let invite = Invite {
            code: MeetingCode::parse("abc-defg-hij").expect("code"),
            host: Some("192.168.1.5:7880".into()),
        };
        assert_eq!(
            invite.link(),
            "confab://join/abc-defg-hij?host=192.168.1.5:7880"
        );
        assert_eq!(Invite::parse(&invite.link()), Ok(invite));
    }

    #[test]
    fn a_bare_code_or_a_link_without_host_is_an_invite_for_the_lan() {
        let bare = Invite::parse(" ABCDEFGHIJ ").expect("bare code");
        assert_eq!(bare.code.as_str(), "abc-defg-hij");
        assert_eq!(bare.host, None);
        assert_eq!(Invite::parse("confab://join/abc-defg-hij/"), Ok(bare));
    }

    #[test]
    fn other_links_and_bad_codes_are_refused() {
        assert_eq!(
            Invite::parse("https://evil.example/join/abc-defg-hij"),
            Err(InviteError::NotAnInvite)
        );
        assert!(matches!(
            Invite::parse("confab://join/abc"),
            Err(InviteError::Code(_))
        ));
        assert_eq!(
            Invite::parse("confab://join/abc-defg-hij?host="),
            Err(InviteError::BadHost)
        );
    }
}
