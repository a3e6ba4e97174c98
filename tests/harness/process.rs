//! Child processes that are stopped when the test that started them ends, even on panic.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command};
use std::time::Duration;

use crate::HarnessError;

/// A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed before returning).
pub fn free_loopback_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

/// A running child process, terminated gracefully (SIGTERM, then SIGKILL) on drop so it can
/// clean up its own children.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    pub fn spawn(mut command: Command) -> Result<Self, HarnessError> {
        let name = command.get_program().to_string_lossy().into_owned();
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            program: name.clone(),
            source,
        })?;
        Ok(Self { name, child })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the process has already exited (it should not have, while in use).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

/// How long a terminated child gets to exit before it is killed.
const GRACE: Duration = Duration::from_secs(5);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.has_exited() {
            return;
        }
        // std has no SIGTERM; the `kill` utility sends it without an unsafe libc call.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + GRACE;
        while std::time::Instant::now() < deadline {
            if self.has_exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable_on_loopback() {
        let port = free_loopback_port().expect("port");
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("still free");
    }

    #[test]
    fn a_guarded_child_is_gone_after_drop() {
        let mut command = Command::new("sleep");
        command.arg("600");
        let guard = ChildGuard::spawn(command).expect("spawn sleep");
        let pid = guard.child.id();
        drop(guard);
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .expect("kill -0");
        assert!(!alive.success(), "sleep {pid} survived its guard");
    }

    #[test]
    fn spawning_a_missing_program_names_it() {
        let error = ChildGuard::spawn(Command::new("confab-no-such-program")).expect_err("missing");
        assert!(error.to_string().contains("confab-no-such-program"));
    }
}
