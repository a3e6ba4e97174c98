//! Watching the desktop notifications apps send: `dbus-monitor` on the session bus, for
//! `org.freedesktop.Notifications.Notify` calls (seen whether or not a notification service
//! runs to show them; none does under Xvfb).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::HarnessError;
use crate::process::ChildGuard;
use crate::wait;

/// The `Notify` calls seen on the session bus since [`NotificationWatch::start`].
#[derive(Debug)]
pub struct NotificationWatch {
    lines: Arc<Mutex<Vec<String>>>,
    _monitor: ChildGuard,
}

impl NotificationWatch {
    /// Starts watching the session bus of `DBUS_SESSION_BUS_ADDRESS`; returns once the
    /// monitor is attached.
    pub async fn start(timeout: Duration) -> Result<Self, HarnessError> {
        let mut command = Command::new("dbus-monitor");
        command
            .args([
                "--session",
                "interface=org.freedesktop.Notifications,member=Notify",
            ])
            .stdout(Stdio::piped());
        let mut monitor = ChildGuard::spawn(command)?;
        let (_, Some(stdout)) = monitor.take_pipes() else {
            return Err(HarnessError::Io(std::io::Error::other(
                "dbus-monitor's output is missing",
            )));
        };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut lines) = collected.lock() {
                    lines.push(line);
                }
            }
        });
        // The monitor's first output is the bus greeting it as a monitor.
        let watch = Self {
            lines,
            _monitor: monitor,
        };
        wait::until("dbus-monitor to attach", timeout, || async {
            (!watch.lines().is_empty()).then_some(())
        })
        .await?;
        Ok(watch)
    }

    /// Waits for a notification whose summary is exactly `summary`.
    pub async fn until_summary(
        &self,
        summary: &str,
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let quoted = format!("string \"{summary}\"");
        wait::until(
            &format!("a notification \"{summary}\""),
            timeout,
            || async {
                self.lines()
                    .iter()
                    .any(|line| line.trim() == quoted)
                    .then_some(())
            },
        )
        .await
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }
}
