//! Child processes that are stopped when the test that started them ends, even on panic.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, ChildStdin, ChildStdout, Command};
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
    child: Child,
}

impl ChildGuard {
    pub fn spawn(mut command: Command) -> Result<Self, HarnessError> {
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            program: command.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        Ok(Self { child })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's standard input and output, when they were piped (once; later calls get
    /// `None`).
    pub fn take_pipes(&mut self) -> (Option<ChildStdin>, Option<ChildStdout>) {
        (self.child.stdin.take(), self.child.stdout.take())
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
        // Children first (e.g. the app a `cargo xtask run` started), so none is orphaned.
        let root = self.child.id();
        let mut tree = descendants(root);
        tree.reverse();
        for pid in tree {
            terminate(pid);
        }
        terminate(root);
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

/// Sends SIGTERM (std has no portable signal API; the `kill` utility avoids unsafe libc calls).
fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status();
}

/// All descendants of `pid`, parents before children (Linux `/proc`; empty elsewhere).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        let path = format!("/proc/{parent}/task/{parent}/children");
        let children: Vec<u32> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|child| child.parse().ok())
            .collect();
        for child in children {
            found.push(child);
            queue.push(child);
        }
    }
    found
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
        assert!(ends_soon(pid), "sleep {pid} survived its guard");
    }

    #[test]
    fn dropping_a_guard_also_stops_the_processes_it_started() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 600 & wait"]);
        let guard = ChildGuard::spawn(command).expect("spawn sh");
        let shell = guard.child.id();
        let sleeper = wait_for_child(shell);
        drop(guard);
        assert!(ends_soon(sleeper), "grandchild {sleeper} was orphaned");
    }

    /// Whether `pid` stops running (gone, or a zombie awaiting its reaper) within a deadline.
    fn ends_soon(pid: u32) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let after_name = stat.rsplit_once(')')?.1.trim_start().to_owned();
                    after_name.chars().next()
                });
            if matches!(state, None | Some('Z' | 'X')) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// The first child of `pid`, once the OS reports it (bounded wait).
    fn wait_for_child(pid: u32) -> u32 {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = descendants(pid).first() {
                return *child;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sh never started sleep"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn spawning_a_missing_program_names_it() {
        let error = ChildGuard::spawn(Command::new("confab-no-such-program")).expect_err("missing");
        assert!(error.to_string().contains("confab-no-such-program"));
    }
}
