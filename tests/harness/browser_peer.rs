//! A browser tab running LiveKit's own SDK (`livekit-client` in Debian's Chromium), driven
//! through `tests/conformance/browser/peer.mjs`, on a host of the test network.
//!
//! libwebrtc ignores loopback, so the tab runs in the network namespace `cargo xtask` made
//! for it (`CONFAB_E2E_BROWSER_NETNS`) and reaches the meeting on the namespace's bridge.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::HarnessError;
use crate::process::ChildGuard;

/// The namespace the tab runs in, set by `cargo xtask test --tier e2e`.
pub const NAMESPACE_VARIABLE: &str = "CONFAB_E2E_BROWSER_NETNS";

/// One tab, and what it has said so far (one JSON object per line of `peer.mjs`).
#[derive(Debug)]
pub struct BrowserPeer {
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    /// Events read while waiting for another, oldest first.
    seen: Vec<Value>,
    // Last, so the pipes close before the process is stopped.
    process: ChildGuard,
}

impl BrowserPeer {
    /// A tab that joins the meeting `code` hosted at `host` (`ip:port` of its conference
    /// API) as a guest named `name`, publishing Chromium's fake camera and microphone once
    /// it is let in.
    pub fn join_by_code(host: &str, code: &str, name: &str) -> Result<Self, HarnessError> {
        Self::spawn_joining(host, code, name, &[])
    }

    /// A tab of `viewport` (width, height) that joins the meeting `code` at `host` as
    /// `name` and only watches: it publishes nothing (for benchmarks).
    pub fn watch_by_code(
        host: &str,
        code: &str,
        name: &str,
        viewport: (u32, u32),
    ) -> Result<Self, HarnessError> {
        let size = format!("{}x{}", viewport.0, viewport.1);
        Self::spawn_joining(
            host,
            code,
            name,
            &[
                ("CONFAB_PEER_PUBLISH", "0"),
                ("CONFAB_PEER_VIEWPORT", &size),
            ],
        )
    }

    /// The process running the browser (its Chromium processes are below it).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    fn spawn_joining(
        host: &str,
        code: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, HarnessError> {
        let namespace = required_env(NAMESPACE_VARIABLE, "the test network")?;
        let node_modules = required_env("CONFAB_NODE_MODULES", "the browser peers' packages")?;
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conformance")
            .join("browser")
            .join("peer.mjs");
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &namespace, "node"])
            .arg(&script)
            .args(["--join", host, code, name])
            .env("CONFAB_NODE_MODULES", node_modules)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut process = ChildGuard::spawn(command)?;
        let (Some(stdin), Some(stdout)) = process.take_pipes() else {
            return Err(HarnessError::Io(std::io::Error::other(
                "the browser peer's pipes are missing",
            )));
        };
        let (sender, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str(&line) {
                    Ok(event) => {
                        if sender.send(event).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("browser peer: {line}"),
                }
            }
        });
        Ok(Self {
            stdin,
            events,
            seen: Vec::new(),
            process,
        })
    }

    /// Sends one command to the tab (see `peer.mjs` for the list).
    pub fn send(&mut self, command: &Value) -> Result<(), HarnessError> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        Ok(())
    }

    /// The first event (already seen or arriving within `timeout`) that `accept` takes.
    /// A page error or a failed join ends the wait at once, with its message.
    pub async fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value, HarnessError> {
        if let Some(index) = self.seen.iter().position(&accept) {
            return Ok(self.seen.remove(index));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let event = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => {
                    return Err(HarnessError::Io(std::io::Error::other(format!(
                        "the browser peer exited while waiting for {what}; it said {:?}",
                        self.seen
                    ))));
                }
                Err(_) => {
                    return Err(HarnessError::Timeout {
                        what: format!("{what} (the browser said {:?})", self.seen),
                        timeout,
                    });
                }
            };
            let kind = event.get("event").and_then(Value::as_str);
            if matches!(kind, Some("join-failed" | "page-error")) {
                return Err(HarnessError::Io(std::io::Error::other(format!(
                    "the browser tab failed: {event}"
                ))));
            }
            if accept(&event) {
                return Ok(event);
            }
            self.seen.push(event);
        }
    }
}

/// Whether `event` is the tab's `{"event": kind}`.
pub fn is(event: &Value, kind: &str) -> bool {
    event.get("event").and_then(Value::as_str) == Some(kind)
}

fn required_env(variable: &'static str, what: &'static str) -> Result<String, HarnessError> {
    std::env::var(variable).map_err(|_| HarnessError::MissingEnv { variable, what })
}
