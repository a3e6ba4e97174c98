//! Building the desktop app and its packages.

use std::path::PathBuf;

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::{process, ui};

/// Every host build and test uses this one package selection. Cargo unifies dependency features
/// over the selected packages, so a different selection (say `-p confab-desktop` alone) would
/// compile Tauri and its dependency tree a second time with other features.
pub const HOST_PACKAGES: &[&str] = &["--workspace", "--exclude", "confab-ui"];

pub const DESKTOP_BINARY: &str = "confab-desktop";
pub const CLI_BINARY: &str = "confab";

/// Builds the UI, then every host binary in release mode; returns the release directory.
pub fn build(workspace: &Workspace) -> Result<PathBuf, XtaskError> {
    ui::build(workspace)?;
    build_binaries(workspace)
}

/// Builds every host binary in release mode over the UI already built, building it first
/// only when there is none (a fresh clone): the app embeds `ui/dist`, and rebuilding the UI
/// rewrites it, which makes the app recompile.
pub fn build_binaries(workspace: &Workspace) -> Result<PathBuf, XtaskError> {
    if !workspace.ui_dir().join("dist").join("index.html").is_file() {
        ui::build(workspace)?;
    }
    eprintln!("== building the app (release)");
    process::run(
        process::command(workspace, "cargo")
            .args(["build", "--release", "--locked", "--bins"])
            .args(HOST_PACKAGES),
    )?;
    Ok(workspace.release_dir())
}

/// Builds the UI and the app, then the `.deb` and `.rpm`.
pub fn bundle(workspace: &Workspace) -> Result<Vec<PathBuf>, XtaskError> {
    ui::build(workspace)?;
    bundle_over_built_ui(workspace)
}

/// Builds the app over an already built UI, then the `.deb` and `.rpm` with the Tauri CLI's
/// `bundle` step (which packages the binary just built instead of compiling again). Offline.
pub fn bundle_over_built_ui(workspace: &Workspace) -> Result<Vec<PathBuf>, XtaskError> {
    build_binaries(workspace)?;
    eprintln!("== bundling .deb and .rpm");
    process::run(
        process::command(workspace, "tauri")
            .args(["bundle", "--bundles", "deb,rpm"])
            .env("CARGO_TARGET_DIR", &workspace.target_dir)
            .env("CI", "true"),
    )?;
    let bundle_dir = workspace.release_dir().join("bundle");
    ["deb", "rpm"]
        .iter()
        .map(|kind| newest_with_extension(&bundle_dir.join(kind), kind))
        .collect()
}

fn newest_with_extension(dir: &std::path::Path, extension: &str) -> Result<PathBuf, XtaskError> {
    let entries = std::fs::read_dir(dir).map_err(XtaskError::io(dir))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| {
            XtaskError::Unexpected(format!("no .{extension} was produced in {}", dir.display()))
        })
}
