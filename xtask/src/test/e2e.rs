//! UI end-to-end: the release app under Xvfb, driven by tauri-driver + WebKitWebDriver.
//!
//! The whole tier runs inside the `apps` host of a private test network, so the app hosts on
//! that host's address and a browser tab (LiveKit's browser SDK, libwebrtc, which ignores
//! loopback) joins the meeting from the `browser` host beside it.

use crate::app::{self, DESKTOP_BINARY, HOST_PACKAGES};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;
use crate::testnet::{Host, Testnet};

use std::path::Path;
use std::process::Command;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let release = app::build_binaries(workspace)?;
    compile_desktop_test(workspace, "ui_e2e")?;
    let testnet = Testnet::create(&["apps", "browser"])?;
    let (Some(apps), Some(browser)) = (testnet.host("apps"), testnet.host("browser")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let (status, lines) = process::run_streaming(
        desktop_test(workspace, &release, apps, browser, "ui_e2e")
            // One window at a time: each test's screenshots must show only its own app.
            .args(["--", "--nocapture", "--test-threads=1"]),
    )?;
    drop(testnet);
    Ok(with_exit_status(
        Counts::from_test_output(&lines),
        status.success(),
    ))
}

/// Compiles the release test `name` outside the virtual display, so its session only runs it.
pub fn compile_desktop_test(workspace: &Workspace, name: &str) -> Result<(), XtaskError> {
    process::run(
        process::command(workspace, "cargo")
            .args(["test", "--release", "--locked", "--no-run", "--test", name])
            .args(HOST_PACKAGES),
    )
}

/// `cargo test --release --test <name>` in the test network's `apps` host, in a virtual
/// display of its own with a D-Bus session of its own, told where the release app is and
/// which namespace the browser tabs run in. Add `-- <test args>` to it.
pub fn desktop_test(
    workspace: &Workspace,
    release: &Path,
    apps: &Host,
    browser: &Host,
    name: &str,
) -> Command {
    let mut command = process::command(workspace, "ip");
    command
        .args(apps.exec_args())
        .arg("xvfb-run")
        .args(["--auto-servernum", "--server-args=-screen 0 1280x800x24"])
        .args(["dbus-run-session", "--", "cargo"])
        .args(["test", "--release", "--locked", "--test", name])
        .args(HOST_PACKAGES)
        .env("CONFAB_APP_BINARY", release.join(DESKTOP_BINARY))
        .env("CONFAB_ARTIFACTS_DIR", workspace.artifacts_dir())
        .env("CONFAB_E2E_APPS_IP", &apps.ip)
        .env("CONFAB_E2E_BROWSER_NETNS", &browser.namespace)
        .env(
            "CONFAB_NODE_MODULES",
            workspace.tools_dir().join("node_modules"),
        )
        // No accessibility bus inside the private D-Bus session; WebKitGTK's DMA-BUF
        // renderer needs a GPU that Xvfb does not have.
        .env("NO_AT_BRIDGE", "1")
        .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    command
}
