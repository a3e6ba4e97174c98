//! npm tools in the project-local, git-ignored `tools/node_modules`: the Tauri CLI (produces
//! the .deb and .rpm bundles), LiveKit's browser SDK and playwright-core (browser conformance
//! peers, run in Debian's Chromium).

use crate::error::XtaskError;
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
            .and_then(|json| json_string_field(&json, "version"));
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
    json_string_field(package_json, package)
        .ok_or_else(|| XtaskError::Unexpected(format!("tools/package.json does not pin {package}")))
}

/// The string value of the first `"key": "value"` pair: enough for the flat package manifests
/// we read, without a JSON dependency in xtask.
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let quoted_key = format!("\"{key}\"");
    let after_key = &json[json.find(&quoted_key)? + quoted_key.len()..];
    let after_colon = after_key.trim_start().strip_prefix(':')?.trim_start();
    let value = after_colon.strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pinned_dependency_and_a_version() {
        let json = r#"{ "devDependencies": { "@tauri-apps/cli" : "2.12.5" }, "version": "1.0.0" }"#;
        assert_eq!(
            json_string_field(json, "@tauri-apps/cli").as_deref(),
            Some("2.12.5")
        );
        assert_eq!(json_string_field(json, "version").as_deref(), Some("1.0.0"));
        assert_eq!(json_string_field(json, "missing"), None);
    }
}
