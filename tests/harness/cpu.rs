//! CPU time of process trees, from `/proc` (user + system time, for benchmarks).

use std::collections::HashMap;

use crate::process::descendants;

/// `/proc`'s clock ticks per second (`USER_HZ`: 100 on every Linux architecture's ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds process `pid` has used, while it runs.
pub fn process_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from the state (field 3) on:
    // utime is field 14 and stime field 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / TICKS_PER_SECOND)
}

/// What a process tree (a root and everything below it, however it grows) uses from a moment on.
#[derive(Debug)]
pub struct TreeCpu {
    roots: Vec<u32>,
    at_start: HashMap<u32, f64>,
}

impl TreeCpu {
    /// Starts counting for `roots` and their descendants.
    pub fn start(roots: Vec<u32>) -> Self {
        let at_start = members(&roots)
            .into_iter()
            .filter_map(|pid| Some((pid, process_seconds(pid)?)))
            .collect();
        Self { roots, at_start }
    }

    /// CPU seconds used since [`TreeCpu::start`] by the processes alive now (a process that
    /// started since counts whole; one that ended since is lost).
    pub fn used(&self) -> f64 {
        self.used_by_name().iter().map(|(_, seconds)| seconds).sum()
    }

    /// [`TreeCpu::used`] by process name (`/proc/<pid>/comm`), most first.
    pub fn used_by_name(&self) -> Vec<(String, f64)> {
        let mut by_name: HashMap<String, f64> = HashMap::new();
        for pid in members(&self.roots) {
            let Some(now) = process_seconds(pid) else {
                continue;
            };
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let used = now - self.at_start.get(&pid).copied().unwrap_or(0.0);
            *by_name.entry(name.trim().to_owned()).or_default() += used;
        }
        let mut named: Vec<(String, f64)> = by_name.into_iter().collect();
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        named
    }
}

fn members(roots: &[u32]) -> Vec<u32> {
    let mut all: Vec<u32> = roots
        .iter()
        .flat_map(|root| std::iter::once(*root).chain(descendants(*root)))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_busy_process_is_counted_and_an_idle_one_is_not() {
        // Busy for a while, then idle (exec keeps the process and its CPU time).
        let mut busy = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done; exec sleep 60",
            ])
            .spawn()
            .expect("sh");
        let mut idle = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let (busy_tree, idle_tree) = (
            TreeCpu::start(vec![busy.id()]),
            TreeCpu::start(vec![idle.id()]),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while busy_tree.used() < 0.05 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (busy_used, idle_used) = (busy_tree.used(), idle_tree.used());
        for child in [&mut busy, &mut idle] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(busy_used >= 0.05, "the busy shell used {busy_used} s");
        assert!(idle_used < 0.05, "sleep used {idle_used} s");
    }
}
