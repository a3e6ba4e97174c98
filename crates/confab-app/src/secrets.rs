//! Secrets in the OS keyring: the API secret of the LiveKit server the app hosts on. On Linux
//! that is the Secret Service (GNOME Keyring, KWallet, KeePassXC…) over D-Bus; the app's own
//! files never hold a secret, and no secret is logged or shown.
//!
//! Items are found by the attributes `application` = `confab` and `account`; a locked
//! keyring is unlocked through the service's own prompt.

#[cfg(target_os = "linux")]
mod secret_service;

#[cfg(target_os = "linux")]
use secret_service::Keyring;
#[cfg(not(target_os = "linux"))]
use unsupported::Keyring;

/// What went wrong with the keyring. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the system keyring cannot be reached: {0}")]
    Unavailable(String),
    #[error("the system keyring has no default collection to keep secrets in")]
    NoCollection,
    #[error("unlocking the system keyring was dismissed")]
    Dismissed,
    #[error("the system keyring answered something unexpected: {0}")]
    Protocol(String),
    #[error("keeping secrets in the system keyring is not built for this system yet")]
    Unsupported,
}

/// The OS keyring, on the session's bus or (tests) on a bus of their own.
#[derive(Debug, Clone, Default)]
pub struct SecretStore {
    /// A D-Bus address; None: the session bus.
    bus: Option<String>,
}

impl SecretStore {
    /// The keyring of the user's session.
    pub fn session() -> Self {
        Self::default()
    }

    /// The keyring served on the D-Bus bus at `address`.
    pub fn at_bus(address: impl Into<String>) -> Self {
        Self {
            bus: Some(address.into()),
        }
    }

    /// Keeps `secret` for `account` (replacing what was kept), labelled `label` in keyring UIs.
    pub async fn save(&self, account: &str, label: &str, secret: &str) -> Result<(), SecretError> {
        Keyring::open(self.bus.as_deref())
            .await?
            .save(account, label, secret)
            .await
    }

    /// The secret kept for `account`, if any.
    pub async fn load(&self, account: &str) -> Result<Option<String>, SecretError> {
        Keyring::open(self.bus.as_deref())
            .await?
            .load(account)
            .await
    }

    /// Forgets the secret kept for `account` (nothing kept is fine).
    pub async fn delete(&self, account: &str) -> Result<(), SecretError> {
        Keyring::open(self.bus.as_deref())
            .await?
            .delete(account)
            .await
    }
}

/// Elsewhere there is no keyring yet: every use says so.
#[cfg(not(target_os = "linux"))]
mod unsupported {
    use super::SecretError;

    pub struct Keyring;

    impl Keyring {
        pub async fn open(_bus: Option<&str>) -> Result<Self, SecretError> {
            Err(SecretError::Unsupported)
        }

        pub async fn save(&self, _: &str, _: &str, _: &str) -> Result<(), SecretError> {
            Err(SecretError::Unsupported)
        }

        pub async fn load(&self, _: &str) -> Result<Option<String>, SecretError> {
            Err(SecretError::Unsupported)
        }

        pub async fn delete(&self, _: &str) -> Result<(), SecretError> {
            Err(SecretError::Unsupported)
        }
    }
}
