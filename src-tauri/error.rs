//! The shell's error type and how it crosses the IPC boundary.

use confab_ipc::{CommandError, ErrorKind};
use serde::{Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("could not read the system webview's version: {0}")]
    WebviewVersion(String),
    /// Hosting, joining or acting in a meeting failed; the message is for people.
    #[error(transparent)]
    Meeting(#[from] confab_app::CoreError),
    #[error(transparent)]
    PushToTalk(#[from] crate::global_ptt::PushToTalkError),
    #[error("This file is not among those received in this run of the app.")]
    UnknownFile,
    #[error("The file could not be opened: {0}")]
    Open(#[from] crate::opener::OpenError),
}

impl ShellError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::WebviewVersion(_) => ErrorKind::Webview,
            Self::Meeting(_) => ErrorKind::Meeting,
            Self::UnknownFile => ErrorKind::InvalidInput,
            Self::PushToTalk(_) => ErrorKind::Internal,
            Self::Open(_) => ErrorKind::Internal,
        }
    }
}

impl From<&ShellError> for CommandError {
    fn from(error: &ShellError) -> Self {
        CommandError::new(error.kind(), error.to_string())
    }
}

/// Tauri serialises a command's error for the UI; it always arrives as `{kind, message}`.
impl Serialize for ShellError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CommandError::from(self).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_the_ui_as_kind_and_message() {
        let error = ShellError::WebviewVersion("WebKitGTK missing".into());
        let json = serde_json::to_value(&error).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "webview",
                "message": "could not read the system webview's version: WebKitGTK missing"
            })
        );
    }
}
