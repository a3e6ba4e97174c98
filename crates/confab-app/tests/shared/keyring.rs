//! A real Secret Service for tests: GNOME Keyring on a D-Bus bus of the test's own, with its
//! files in a scratch folder; both stop when this is dropped.
#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confab_app::secrets::SecretStore;

const STARTUP: Duration = Duration::from_secs(30);

/// A session bus with no service directories (nothing is activated) and no restrictions.
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

pub struct PrivateKeyring {
    bus: Child,
    keyring: Child,
    pub address: String,
    home: PathBuf,
}

impl PrivateKeyring {
    pub async fn start(label: &str) -> Self {
        let home =
            std::env::temp_dir().join(format!("confab-keyring-{}-{label}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).expect("scratch folder");
        // A bus that starts no services by itself: the system's GNOME Keyring, activated by
        // the first request, would use the real user's files and race ours.
        let config = home.join("bus.conf");
        std::fs::write(&config, BUS_CONFIG).expect("bus configuration written");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env("HOME", &home)
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon) starts");
        let mut address = String::new();
        std::io::BufReader::new(bus.stdout.take().expect("piped"))
            .read_line(&mut address)
            .expect("the bus's address");
        let address = address.trim().to_owned();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_RUNTIME_DIR", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (package gnome-keyring) starts");
        // The login keyring's password, read once from standard input.
        let mut stdin = keyring.stdin.take().expect("piped");
        stdin.write_all(b"test-password").expect("password written");
        drop(stdin);
        let keyring = Self {
            bus,
            keyring,
            address,
            home,
        };
        let store = keyring.store();
        let started = Instant::now();
        // The service gives no sign of being ready but answering.
        while store.load("readiness-probe").await.is_err() {
            assert!(
                started.elapsed() < STARTUP,
                "GNOME Keyring did not answer within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        keyring
    }

    pub fn store(&self) -> SecretStore {
        SecretStore::at_bus(self.address.clone())
    }

    /// Every file the keyring keeps, read whole.
    pub fn files(&self) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        let mut pending = vec![self.home.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    files.push(bytes);
                }
            }
        }
        files
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        for child in [&mut self.keyring, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
