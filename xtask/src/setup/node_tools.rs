//! npm tools in the project-local, git-ignored `tools/node_modules`: the Tauri CLI (produces
//! the .deb and .rpm bundles), LiveKit's browser SDK and playwright-core (browser conformance
//! peers, run in Debian's Chromium).

use crate::error::XtaskError;
use crate::flat_json;
use crate::paths::Workspace;
use crate::process;

/// The packages `tools/package.json` pins exactly.
const PINNED_PACKAGES: &[&str] = &["@tauri-apps/cli", "livekit-client", "playwright-core"];

pub fn ensure(workspace: &Workspace) -> Result<(), XtaskError> {
    let tools = workspace.tools_dir();
    let manifest = read(&tools.join("package.json"))?;
    let mut outdated = Vec::new();
    for package in PINNED_PACKAGES {
        let wanted = pinned_version(&manifest, package)?;
        let installed_manifest = tools
            .join("node_modules")
            .join(package)
            .join("package.json");
        let installed = std::fs::read_to_string(&installed_manifest)
            .ok()
            .and_then(|json| flat_json::string_field(&json, "version"));
        if installed.as_deref() != Some(wanted.as_str()) {
            outdated.push(format!("{package}@{wanted}"));
        }
    }
    if outdated.is_empty() {
        eprintln!("npm tools: {} present", PINNED_PACKAGES.join(", "));
        return Ok(());
    }
    eprintln!("npm tools: installing {}", outdated.join(", "));
    if !process::exists(workspace, "npm") {
        return Err(XtaskError::MissingPrerequisites(
            "npm is needed for the Tauri CLI and the browser test peers; install Node.js \
             (Debian: apt-get install nodejs npm)"
                .into(),
        ));
    }
    // No lockfile: npm writes only this platform's optional binaries into one, which `npm ci`
    // then rejects elsewhere. Every tool is pinned exactly, and each pins its dependencies'
    // ranges; playwright-core downloads no browser (Debian's Chromium is used).
    process::run(
        process::command(workspace, "npm")
            .current_dir(&tools)
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--no-package-lock",
            ]),
    )
}

fn read(path: &std::path::Path) -> Result<String, XtaskError> {
    std::fs::read_to_string(path).map_err(XtaskError::io(path))
}

fn pinned_version(package_json: &str, package: &str) -> Result<String, XtaskError> {
    flat_json::string_field(package_json, package)
        .ok_or_else(|| XtaskError::Unexpected(format!("tools/package.json does not pin {package}")))
}
