//! `cargo xtask bench …`: measurements that are not tests. Each writes its section of
//! `docs/BENCHMARKS.md` with the machine, the command and what was measured.

pub mod client;
mod driver;
pub mod fuzz;
pub mod media;
mod profile;
mod report;
pub mod sfu;
pub mod ui;
