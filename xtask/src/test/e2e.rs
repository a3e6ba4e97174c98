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
use crate::testnet::Testnet;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let release = app::build_binaries(workspace)?;
    // Compile the test outside the virtual display, so its session only runs the test.
    process::run(
        process::command(workspace, "cargo")
            .args([
                "test",
                "--release",
                "--locked",
                "--no-run",
                "--test",
                "ui_e2e",
            ])
            .args(HOST_PACKAGES),
    )?;
    let testnet = Testnet::create(&["apps", "browser"])?;
    let (Some(apps), Some(browser)) = (testnet.host("apps"), testnet.host("browser")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let (status, lines) = process::run_streaming(
        process::command(workspace, "ip")
            .args(apps.exec_args())
            .arg("xvfb-run")
            .args(["--auto-servernum", "--server-args=-screen 0 1280x800x24"])
            .args(["dbus-run-session", "--", "cargo"])
            .args(["test", "--release", "--locked", "--test", "ui_e2e"])
            .args(HOST_PACKAGES)
            // One window at a time: each test's screenshots must show only its own app.
            .args(["--", "--nocapture", "--test-threads=1"])
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
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    )?;
    drop(testnet);
    Ok(with_exit_status(
        Counts::from_test_output(&lines),
        status.success(),
    ))
}
