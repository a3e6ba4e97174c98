//! Leptos component tests: wasm-bindgen-test in headless Chromium through chromedriver.

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|path| std::path::Path::new(path).is_file())
        .ok_or_else(|| {
            XtaskError::MissingPrerequisites(
                "chromedriver not found: install Debian's chromium-driver".into(),
            )
        })?;
    let (status, lines) = process::run_streaming(
        process::command(workspace, "cargo")
            .args([
                "test",
                "--locked",
                "-p",
                "confab-ui",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", chromedriver)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
    )?;
    Ok(with_exit_status(
        Counts::from_test_output(&lines),
        status.success(),
    ))
}
