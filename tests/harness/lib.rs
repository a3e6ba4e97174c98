//! Shared machinery for Confab's cross-crate tests: locating built artefacts, starting helper
//! processes on loopback ports and waiting for them with deadlines, and saving artefacts.
//! The network-namespace test network itself is built by `cargo xtask` (`xtask/src/testnet.rs`);
//! tests find their hosts in the environment it sets.

pub mod artifacts;
pub mod browser_peer;
pub mod cpu;
pub mod keyboard;
pub mod notifications;
pub mod process;
pub mod screen_capture;
pub mod tauri_driver;
pub mod wait;
pub mod x11_windows;

/// Why a test could not set up its environment. Every message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{variable} is not set: run this test through `cargo xtask test`, which builds {what}")]
    MissingEnv {
        variable: &'static str,
        what: &'static str,
    },
    #[error("{path} does not exist: {hint}")]
    MissingFile { path: String, hint: &'static str },
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        what: String,
        timeout: std::time::Duration,
    },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}
