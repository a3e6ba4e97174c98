//! `tauri-driver`, the WebDriver server that launches a Tauri app and forwards to the platform's
//! native driver (`WebKitWebDriver` on Linux).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::HarnessError;
use crate::process::{ChildGuard, free_loopback_port};
use crate::wait;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The release-built desktop binary, as `cargo xtask test` reports it in `CONFAB_APP_BINARY`.
pub fn app_binary() -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("CONFAB_APP_BINARY")
        .map(PathBuf::from)
        .ok_or(HarnessError::MissingEnv {
            variable: "CONFAB_APP_BINARY",
            what: "the release app",
        })?;
    if !path.is_file() {
        return Err(HarnessError::MissingFile {
            path: path.display().to_string(),
            hint: "build it with `cargo xtask test --tier e2e`",
        });
    }
    Ok(path)
}

/// A running `tauri-driver` on loopback ports, stopped on drop.
#[derive(Debug)]
pub struct TauriDriver {
    _process: ChildGuard,
    port: u16,
}

impl TauriDriver {
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with_env::<&str, &str>(&[]).await
    }

    /// A driver whose apps see `env` besides the test's own environment (the app inherits
    /// tauri-driver's through WebKitWebDriver).
    pub async fn start_with_env<K, V>(env: &[(K, V)]) -> Result<Self, HarnessError>
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let port = free_loopback_port()?;
        let native_port = free_loopback_port()?;
        let program = std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
        let mut command = Command::new(program);
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .envs(env.iter().map(|(key, value)| (key, value)));
        let process = ChildGuard::spawn(command)?;
        wait::for_listener(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            STARTUP_TIMEOUT,
        )
        .await?;
        Ok(Self {
            _process: process,
            port,
        })
    }

    /// The driver's process id (the app it launches is one of its descendants).
    pub fn pid(&self) -> u32 {
        self._process.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Session capabilities that launch `application`. No `browserName`: WebKitWebDriver
    /// rejects the session when one is given.
    pub fn capabilities(application: &Path) -> serde_json::Map<String, serde_json::Value> {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".to_owned(),
            serde_json::json!({ "application": application }),
        );
        capabilities
    }
}
