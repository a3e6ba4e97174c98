//! Installs what is missing, and only that: each step first checks, so a second run is quick
//! and changes nothing.

pub mod apt;
pub mod go_toolchain;
pub mod native;
pub mod node_tools;
pub mod python_tools;
pub mod rust_tools;
pub mod venv;

use crate::error::XtaskError;
use crate::paths::Workspace;

/// What the prerequisites are for: running the app needs less than running every test tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Test,
}

pub fn ensure(workspace: &Workspace, purpose: Purpose) -> Result<(), XtaskError> {
    eprintln!("== setup: checking prerequisites for {purpose:?}");
    apt::ensure(workspace, purpose)?;
    rust_tools::ensure(workspace, purpose)?;
    native::ensure(workspace)?;
    if purpose == Purpose::Test {
        node_tools::ensure(workspace)?;
        python_tools::ensure(workspace)?;
    }
    eprintln!("== setup: all prerequisites present");
    Ok(())
}

/// Whether this process runs as root (apt installs need it).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}
