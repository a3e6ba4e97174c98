use serde::{Deserialize, Serialize};

/// The category of a failed command. The UI branches on it (retry, show settings, report a bug),
/// so variants are stable identifiers, serialised in kebab-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The system webview could not be queried or misbehaved.
    Webview,
    /// The request was malformed (bad argument from the UI).
    InvalidInput,
    /// The UI could not reach the shell at all (not running inside the app, IPC failure).
    Ipc,
    /// A meeting could not be hosted, joined or changed; the message says why, for people.
    Meeting,
    /// Anything the shell did not expect; the message says what.
    Internal,
}

/// The wire shape of every command error: `{"kind": "...", "message": "..."}`.
///
/// The shell's own error enums (thiserror) convert into this when they cross the IPC boundary;
/// the message is meant for people and never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_kind_and_message() {
        let error = CommandError::new(ErrorKind::InvalidInput, "bad code");
        let json = serde_json::to_string(&error).expect("serialise");
        assert_eq!(json, r#"{"kind":"invalid-input","message":"bad code"}"#);
    }

    #[test]
    fn unknown_kind_is_rejected_rather_than_guessed() {
        let parsed = serde_json::from_str::<CommandError>(r#"{"kind":"nope","message":"x"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn displays_its_message() {
        let error = CommandError::new(ErrorKind::Webview, "no webview");
        assert_eq!(error.to_string(), "no webview");
    }
}
