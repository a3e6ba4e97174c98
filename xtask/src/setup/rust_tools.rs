//! The wasm target and the Rust command-line tools, each at a pinned version.

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::Purpose;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The desktop targets whose OS-specific code (screen capture) the lint tier compile-checks
/// from Linux; no C toolchain for them is needed, as `cargo clippy` never links.
pub const CROSS_CHECK_TARGETS: [&str; 2] = ["x86_64-pc-windows-gnu", "aarch64-apple-darwin"];
/// trunk 0.22 needs a newer rustc than some supported toolchains; 0.21.14 is verified here.
const TRUNK_VERSION: &str = "0.21.14";
const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// A crate installed with `cargo install`.
struct CargoTool {
    krate: &'static str,
    version: String,
    /// wasm-bindgen-cli's own lockfile pins a webpki-roots release the registry no longer
    /// serves, so it is the one tool installed without `--locked`.
    locked: bool,
}

pub fn ensure(workspace: &Workspace, purpose: Purpose) -> Result<(), XtaskError> {
    let mut targets = vec![WASM_TARGET];
    if purpose == Purpose::Test {
        targets.extend(CROSS_CHECK_TARGETS);
    }
    ensure_targets(workspace, &targets)?;
    let mut tools = vec![
        CargoTool {
            krate: "trunk",
            version: TRUNK_VERSION.to_owned(),
            locked: true,
        },
        CargoTool {
            krate: "wasm-bindgen-cli",
            version: locked_version(workspace, "wasm-bindgen")?,
            locked: false,
        },
    ];
    if purpose == Purpose::Test {
        tools.push(CargoTool {
            krate: "tauri-driver",
            version: TAURI_DRIVER_VERSION.to_owned(),
            locked: true,
        });
    }
    for tool in tools {
        ensure_cargo_tool(workspace, &tool)?;
    }
    Ok(())
}

/// `cargo install`s `tool` unless that exact version is installed already.
fn ensure_cargo_tool(workspace: &Workspace, tool: &CargoTool) -> Result<(), XtaskError> {
    let installed =
        process::output(process::command(workspace, "cargo").args(["install", "--list"]))
            .unwrap_or_default();
    let marker = format!("{} v{}:", tool.krate, tool.version);
    if installed.lines().any(|line| line.trim() == marker) {
        eprintln!("rust tools: {} {} present", tool.krate, tool.version);
        return Ok(());
    }
    let spec = format!("{}@{}", tool.krate, tool.version);
    let mut install = process::command(workspace, "cargo");
    install.args(["install", &spec]);
    if tool.locked {
        install.arg("--locked");
    }
    process::run(&mut install)
}

/// A benchmark's own tool (cargo-fuzz, inferno), installed `--locked` at `version` on demand.
pub fn ensure_locked_tool(
    workspace: &Workspace,
    krate: &'static str,
    version: &str,
) -> Result<(), XtaskError> {
    ensure_cargo_tool(
        workspace,
        &CargoTool {
            krate,
            version: version.to_owned(),
            locked: true,
        },
    )
}

/// `rustup target add`s each of `targets` (their standard library) that is missing.
fn ensure_targets(workspace: &Workspace, targets: &[&str]) -> Result<(), XtaskError> {
    if !process::exists(workspace, "rustup") {
        return Err(XtaskError::MissingPrerequisites(format!(
            "rustup is needed for the {} targets. Install Rust with rustup, then run:\n  \
             rustup target add {}",
            targets.join(", "),
            targets.join(" ")
        )));
    }
    let installed = process::output(process::command(workspace, "rustup").args([
        "target",
        "list",
        "--installed",
    ]))
    .unwrap_or_default();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|target| !installed.lines().any(|line| line.trim() == *target))
        .collect();
    if missing.is_empty() {
        eprintln!("rust tools: targets {} present", targets.join(", "));
        return Ok(());
    }
    process::run(
        process::command(workspace, "rustup")
            .args(["target", "add"])
            .args(&missing),
    )
}

/// The version of `package` recorded in Cargo.lock, so CLI tools match the library exactly.
pub fn locked_version(workspace: &Workspace, package: &str) -> Result<String, XtaskError> {
    let path = workspace.root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&path).map_err(XtaskError::io(&path))?;
    find_locked_version(&lock, package).ok_or_else(|| {
        XtaskError::Unexpected(format!("{} does not list `{package}`", path.display()))
    })
}

fn find_locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == name_line)?;
    lines
        .next()?
        .trim()
        .strip_prefix("version = \"")?
        .strip_suffix('"')
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen-backend"
version = "0.2.130"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://example.invalid"
"#;

    #[test]
    fn finds_the_exact_package_not_a_prefix_match() {
        assert_eq!(
            find_locked_version(LOCK, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(find_locked_version(LOCK, "wasm"), None);
    }

    #[test]
    fn the_real_lockfile_pins_wasm_bindgen_like_the_ui_crate() {
        let workspace = Workspace::locate().expect("workspace");
        let version = locked_version(&workspace, "wasm-bindgen").expect("locked");
        let manifest = std::fs::read_to_string(workspace.root.join("Cargo.toml")).expect("read");
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "Cargo.toml must pin wasm-bindgen to the locked {version}"
        );
    }
}
