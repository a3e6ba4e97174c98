//! `cargo xtask bench …`: measurements that are not tests. Each writes its section of
//! `docs/BENCHMARKS.md` with the machine, the command and what was measured.

pub mod client;
pub mod fuzz;
mod profile;
mod report;
pub mod sfu;
