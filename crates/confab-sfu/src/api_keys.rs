//! API key/secret pairs the server accepts, in `livekit-server`'s `--keys "key: secret"` format.

use std::collections::BTreeMap;
use std::fmt;

/// The key/secret pair `livekit-server --dev` uses; Confab's `--dev` matches it so SDK examples work.
pub const DEV_KEY: &str = "devkey";
pub const DEV_SECRET: &str = "secret";

/// Secrets shorter than this are refused outside `--dev`: HS256 tokens signed with a short secret
/// can be brute-forced offline.
pub const MIN_SECRET_LEN: usize = 32;

/// The API keys a server accepts. Secrets are never printed: `Debug` shows key names only.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeys {
    secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeysError {
    #[error("line {line}: expected `key: secret`")]
    MissingSeparator { line: usize },
    #[error("line {line}: the key is empty")]
    EmptyKey { line: usize },
    #[error("line {line}: the secret for `{key}` is empty")]
    EmptySecret { line: usize, key: String },
    #[error("line {line}: `{key}` appears twice")]
    DuplicateKey { line: usize, key: String },
    #[error(
        "the secret for `{key}` has {len} characters; use at least {MIN_SECRET_LEN} (or --dev for local testing)"
    )]
    SecretTooShort { key: String, len: usize },
    #[error("no API keys given")]
    NoKeys,
}

impl ApiKeys {
    /// The single well-known development pair (`devkey` / `secret`).
    pub fn dev() -> Self {
        Self {
            secrets: BTreeMap::from([(DEV_KEY.to_owned(), DEV_SECRET.to_owned())]),
        }
    }

    /// Parses `key: secret` pairs, one per line (blank lines and `#` comments ignored), and
    /// requires production-strength secrets.
    pub fn parse(text: &str) -> Result<Self, ApiKeysError> {
        let mut secrets = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let (key, secret) = content
                .split_once(':')
                .ok_or(ApiKeysError::MissingSeparator { line })?;
            let (key, secret) = (key.trim(), secret.trim());
            if key.is_empty() {
                return Err(ApiKeysError::EmptyKey { line });
            }
            if secret.is_empty() {
                return Err(ApiKeysError::EmptySecret {
                    line,
                    key: key.to_owned(),
                });
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(ApiKeysError::SecretTooShort {
                    key: key.to_owned(),
                    len: secret.len(),
                });
            }
            if secrets.insert(key.to_owned(), secret.to_owned()).is_some() {
                return Err(ApiKeysError::DuplicateKey {
                    line,
                    key: key.to_owned(),
                });
            }
        }
        if secrets.is_empty() {
            return Err(ApiKeysError::NoKeys);
        }
        Ok(Self { secrets })
    }

    /// The secret for `key`, used to verify a token's signature.
    pub fn secret(&self, key: &str) -> Option<&str> {
        self.secrets.get(key).map(String::as_str)
    }

    /// The first key (by name) and its secret: what the server signs its own tokens with.
    pub fn first(&self) -> Option<(&str, &str)> {
        self.secrets
            .iter()
            .next()
            .map(|(key, secret)| (key.as_str(), secret.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("keys", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn dev_keys_match_livekit_server_dev_mode() {
        assert_eq!(ApiKeys::dev().secret("devkey"), Some("secret"));
    }

    #[test]
    fn parses_several_pairs_with_comments_and_blank_lines() {
        let text = format!("# team keys\nAPIone: {STRONG}\n\n  APItwo :{STRONG}x  \n");
        let keys = ApiKeys::parse(&text).expect("valid");
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["APIone", "APItwo"]);
        assert_eq!(keys.secret("APItwo"), Some(format!("{STRONG}x").as_str()));
        assert_eq!(keys.secret("APIthree"), None);
    }

    #[test]
    fn reports_the_offending_line() {
        assert_eq!(
            ApiKeys::parse(&format!("a: {STRONG}\nno separator")),
            Err(ApiKeysError::MissingSeparator { line: 2 })
        );
        assert_eq!(
            ApiKeys::parse(&format!(": {STRONG}")),
            Err(ApiKeysError::EmptyKey { line: 1 })
        );
        assert_eq!(
            ApiKeys::parse(&format!("a: {STRONG}\na: {STRONG}")),
            Err(ApiKeysError::DuplicateKey {
                line: 2,
                key: "a".into()
            })
        );
    }

    #[test]
    fn refuses_short_and_empty_secrets_and_no_keys() {
        assert_eq!(
            ApiKeys::parse("a: short"),
            Err(ApiKeysError::SecretTooShort {
                key: "a".into(),
                len: 5
            })
        );
        assert_eq!(
            ApiKeys::parse("a:   "),
            Err(ApiKeysError::EmptySecret {
                line: 1,
                key: "a".into()
            })
        );
        assert_eq!(ApiKeys::parse("\n# nothing\n"), Err(ApiKeysError::NoKeys));
    }

    #[test]
    fn debug_output_never_contains_a_secret() {
        let keys = ApiKeys::parse(&format!("APIone: {STRONG}")).expect("valid");
        let shown = format!("{keys:?}");
        assert!(shown.contains("APIone"));
        assert!(!shown.contains(STRONG));
    }
}
