//! The freedesktop Secret Service API (org.freedesktop.secrets), over zbus: a `plain`
//! session (the secret travels only over the local bus), items in the default collection.

use std::collections::HashMap;

use futures_util::StreamExt;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Type, Value};

use super::SecretError;

const APPLICATION: &str = "confab";
/// The object path the service uses for "none" (no prompt needed, no such alias).
const NONE: &str = "/";

#[zbus::proxy(
    interface = "org.freedesktop.Secret.Service",
    default_service = "org.freedesktop.secrets",
    default_path = "/org/freedesktop/secrets"
)]
trait Service {
    fn open_session(
        &self,
        algorithm: &str,
        input: &Value<'_>,
    ) -> zbus::Result<(OwnedValue, OwnedObjectPath)>;
    fn search_items(
        &self,
        attributes: HashMap<&str, &str>,
    ) -> zbus::Result<(Vec<OwnedObjectPath>, Vec<OwnedObjectPath>)>;
    fn unlock(
        &self,
        objects: &[ObjectPath<'_>],
    ) -> zbus::Result<(Vec<OwnedObjectPath>, OwnedObjectPath)>;
    fn get_secrets(
        &self,
        items: &[ObjectPath<'_>],
        session: &ObjectPath<'_>,
    ) -> zbus::Result<HashMap<OwnedObjectPath, Secret>>;
    fn read_alias(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
}

#[zbus::proxy(
    interface = "org.freedesktop.Secret.Collection",
    default_service = "org.freedesktop.secrets"
)]
trait Collection {
    fn create_item(
        &self,
        properties: HashMap<&str, Value<'_>>,
        secret: &Secret,
        replace: bool,
    ) -> zbus::Result<(OwnedObjectPath, OwnedObjectPath)>;
}

#[zbus::proxy(
    interface = "org.freedesktop.Secret.Item",
    default_service = "org.freedesktop.secrets"
)]
trait Item {
    fn delete(&self) -> zbus::Result<OwnedObjectPath>;
}

#[zbus::proxy(
    interface = "org.freedesktop.Secret.Prompt",
    default_service = "org.freedesktop.secrets"
)]
trait Prompt {
    fn prompt(&self, window_id: &str) -> zbus::Result<()>;
    #[zbus(signal)]
    fn completed(&self, dismissed: bool, result: Value<'_>) -> zbus::Result<()>;
}

/// A secret as the service carries it: `(session, parameters, value, content type)`.
#[derive(Debug, Type, serde::Serialize, serde::Deserialize)]
pub struct Secret {
    session: OwnedObjectPath,
    parameters: Vec<u8>,
    value: Vec<u8>,
    content_type: String,
}

/// A connection to the service with a session open.
pub struct Keyring {
    connection: zbus::Connection,
    service: ServiceProxy<'static>,
    session: OwnedObjectPath,
}

impl Keyring {
    pub async fn open(bus: Option<&str>) -> Result<Self, SecretError> {
        let connection = match bus {
            Some(address) => zbus::connection::Builder::address(address)
                .map_err(unavailable)?
                .build()
                .await
                .map_err(unavailable)?,
            None => zbus::Connection::session().await.map_err(unavailable)?,
        };
        let service = ServiceProxy::new(&connection).await.map_err(unavailable)?;
        let (_, session) = service
            .open_session("plain", &Value::from(""))
            .await
            .map_err(unavailable)?;
        Ok(Self {
            connection,
            service,
            session,
        })
    }

    pub async fn save(&self, account: &str, label: &str, secret: &str) -> Result<(), SecretError> {
        let alias = self.service.read_alias("default").await.map_err(protocol)?;
        if alias.as_str() == NONE {
            return Err(SecretError::NoCollection);
        }
        self.unlock(&[alias.as_ref()]).await?;
        let collection = CollectionProxy::builder(&self.connection)
            .path(alias)
            .map_err(protocol)?
            .build()
            .await
            .map_err(protocol)?;
        let attributes = attributes(account);
        let properties = HashMap::from([
            ("org.freedesktop.Secret.Item.Label", Value::from(label)),
            (
                "org.freedesktop.Secret.Item.Attributes",
                Value::from(attributes),
            ),
        ]);
        let secret = Secret {
            session: self.session.clone(),
            parameters: Vec::new(),
            value: secret.as_bytes().to_vec(),
            content_type: "text/plain; charset=utf8".to_owned(),
        };
        let (_, prompt) = collection
            .create_item(properties, &secret, true)
            .await
            .map_err(protocol)?;
        self.complete(prompt).await
    }

    pub async fn load(&self, account: &str) -> Result<Option<String>, SecretError> {
        let (unlocked, locked) = self
            .service
            .search_items(attributes(account))
            .await
            .map_err(protocol)?;
        let Some(item) = unlocked.into_iter().chain(locked).next() else {
            return Ok(None);
        };
        self.unlock(&[item.as_ref()]).await?;
        let mut secrets = self
            .service
            .get_secrets(&[item.as_ref()], &self.session.as_ref())
            .await
            .map_err(protocol)?;
        let secret = secrets
            .remove(&item)
            .ok_or_else(|| SecretError::Protocol("the item's secret was not returned".into()))?;
        String::from_utf8(secret.value)
            .map(Some)
            .map_err(|_| SecretError::Protocol("the kept secret is not text".into()))
    }

    pub async fn delete(&self, account: &str) -> Result<(), SecretError> {
        let (unlocked, locked) = self
            .service
            .search_items(attributes(account))
            .await
            .map_err(protocol)?;
        for item in unlocked.into_iter().chain(locked) {
            let proxy = ItemProxy::builder(&self.connection)
                .path(item)
                .map_err(protocol)?
                .build()
                .await
                .map_err(protocol)?;
            let prompt = proxy.delete().await.map_err(protocol)?;
            self.complete(prompt).await?;
        }
        Ok(())
    }

    async fn unlock(&self, objects: &[ObjectPath<'_>]) -> Result<(), SecretError> {
        let (_, prompt) = self.service.unlock(objects).await.map_err(protocol)?;
        self.complete(prompt).await
    }

    /// Runs the service's prompt (e.g. the keyring's password dialog), if it asked for one,
    /// and waits for the user.
    async fn complete(&self, prompt: OwnedObjectPath) -> Result<(), SecretError> {
        if prompt.as_str() == NONE {
            return Ok(());
        }
        let proxy = PromptProxy::builder(&self.connection)
            .path(prompt)
            .map_err(protocol)?
            .build()
            .await
            .map_err(protocol)?;
        let mut completed = proxy.receive_completed().await.map_err(protocol)?;
        proxy.prompt("").await.map_err(protocol)?;
        let signal = completed
            .next()
            .await
            .ok_or_else(|| SecretError::Protocol("the prompt ended without an answer".into()))?;
        let arguments = signal.args().map_err(protocol)?;
        if arguments.dismissed {
            return Err(SecretError::Dismissed);
        }
        Ok(())
    }
}

fn attributes(account: &str) -> HashMap<&str, &str> {
    HashMap::from([("application", APPLICATION), ("account", account)])
}

fn unavailable(error: impl std::fmt::Display) -> SecretError {
    SecretError::Unavailable(error.to_string())
}

fn protocol(error: impl std::fmt::Display) -> SecretError {
    SecretError::Protocol(error.to_string())
}
