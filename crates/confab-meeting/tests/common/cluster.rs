//! A two-node `livekit-server` cluster sharing a private Redis, on loopback ports of its own:
//! what a meeting outgrows one machine onto.

use std::process::{Child, Command, Stdio};

#[path = "../../../confab-rtc/tests/common/livekit.rs"]
mod livekit;

#[allow(unused_imports)] // Only the LiveKit tests use the credentials.
pub use livekit::{DEV_KEY, DEV_SECRET, LiveKitServer};

/// A `redis-server` with nothing saved, on a loopback port; killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Self {
        let port = livekit::free_tcp_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start redis-server (cargo xtask setup installs it): {error}")
            });
        let mut redis = Self { child, port };
        livekit::wait_until_listening(&mut redis.child, port, "redis-server");
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two livekit-server nodes routing through one Redis.
pub struct Cluster {
    pub nodes: [LiveKitServer; 2],
    _redis: Redis,
}

impl Cluster {
    pub fn start() -> Self {
        let redis = Redis::start();
        let config = format!("redis:\n  address: 127.0.0.1:{}\n", redis.port);
        let nodes = [
            LiveKitServer::start_with(&config),
            LiveKitServer::start_with(&config),
        ];
        Self {
            nodes,
            _redis: redis,
        }
    }
}
