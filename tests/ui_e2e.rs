//! UI end-to-end: the release-built desktop app in a real window (Xvfb), driven through
//! tauri-driver and WebKitWebDriver as a person would use it.

use std::error::Error;
use std::time::Duration;

use confab_test_harness::process::{ChildGuard, descendants};
use confab_test_harness::screen_capture::capture_screen;
use confab_test_harness::tauri_driver::{TauriDriver, app_binary};
use confab_test_harness::{artifacts, wait, x11_windows};
use fantoccini::{Client, ClientBuilder, Locator};

type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Generous: the first WebKit start on a cold, loaded CI machine is slow.
const UI_TIMEOUT: Duration = Duration::from_secs(60);
/// `cargo xtask run` rebuilds the UI and relinks the app before the window opens.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test]
async fn home_screen_validates_join_codes_in_the_real_app() -> TestResult {
    let application = app_binary()?;
    let driver = TauriDriver::start().await?;
    let client = ClientBuilder::native()
        .capabilities(TauriDriver::capabilities(&application))
        .connect(&driver.url())
        .await?;
    let outcome = exercise_home_screen(&client).await;
    // Save what the window showed even when an assertion failed, then close the app.
    if outcome.is_err() {
        let _ = screenshot("ui-e2e-failure.png").await;
    }
    client.close().await?;
    outcome
}

/// The README's run command, exactly as a person types it, opens the Confab window.
#[tokio::test]
async fn readme_run_command_opens_the_window() -> TestResult {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = std::process::Command::new(env!("CARGO"));
    // Setup already ran for this test session; the build is reused from the e2e tier.
    command
        .args(["xtask", "run", "--skip-setup"])
        .current_dir(&workspace);
    let run = ChildGuard::spawn(command)?;
    let run_pid = run.id();
    // Only a window of a process this command started counts (not one left by another test).
    let window = wait::until("a window titled Confab", RUN_TIMEOUT, || async move {
        tokio::task::spawn_blocking(move || {
            let ours = descendants(run_pid);
            x11_windows::find_by_title("Confab")
                .ok()?
                .into_iter()
                .find(|window| window.pid.is_some_and(|pid| ours.contains(&pid)))
        })
        .await
        .ok()
        .flatten()
    })
    .await?;
    assert!(
        window.width >= 720 && window.height >= 520,
        "window is {}×{}, below its minimum size",
        window.width,
        window.height
    );
    // The window exists before WebKit paints it; wait for the page, not a guessed delay.
    let painted = wait::until("the window to paint", UI_TIMEOUT, || async {
        let saved = screenshot("run-command-window.png").await.ok()?;
        (saved.colours > 100).then_some(saved)
    })
    .await?;
    println!("run command window: {}", painted.path.display());
    Ok(())
}

async fn exercise_home_screen(client: &Client) -> TestResult {
    let input = client
        .wait()
        .at_most(UI_TIMEOUT)
        .for_element(Locator::Css("#join-code"))
        .await?;
    assert_eq!(client.title().await?, "Confab");
    let host = client.find(Locator::Css("#host-button")).await?;
    assert_eq!(host.text().await?, "Host a meeting");

    // The footer is filled by a real `app_info` command round-trip through the Tauri IPC.
    let version = env!("CARGO_PKG_VERSION");
    let footer = text_when(client, "#app-info", |text| text.contains(version)).await?;
    assert!(
        footer.starts_with(&format!("Confab {version} · {}", std::env::consts::OS)),
        "{footer}"
    );
    let home = screenshot("ui-e2e-1-home.png").await?;
    // A window that never painted leaves Xvfb's root a single colour; text and the logo give
    // hundreds.
    assert!(
        home.colours > 100,
        "the display shows only {} colours: the window did not paint",
        home.colours
    );

    input.send_keys("hello").await?;
    client
        .find(Locator::Css("#join-button"))
        .await?
        .click()
        .await?;
    let error = text_when(client, "#join-code-error", |text| !text.is_empty()).await?;
    assert!(
        error.contains("abc-defg-hij"),
        "unexpected error text: {error}"
    );
    assert_eq!(input.attr("aria-invalid").await?.as_deref(), Some("true"));
    screenshot("ui-e2e-2-bad-code.png").await?;

    input.clear().await?;
    input.send_keys("ABC-DEFG-HIJ").await?;
    wait::until("the error to clear", UI_TIMEOUT, || async {
        match client.find(Locator::Css("#join-code-error")).await {
            Err(error) if error.is_no_such_element() => Some(()),
            _ => None,
        }
    })
    .await?;
    client
        .find(Locator::Css("#join-button"))
        .await?
        .click()
        .await?;
    let status = text_when(client, "#join-status", |text| !text.is_empty()).await?;
    assert!(status.contains("abc-defg-hij is a valid code"), "{status}");
    let last = screenshot("ui-e2e-3-valid-code.png").await?;
    println!("screenshots saved beside {}", last.path.display());
    Ok(())
}

/// The text of `selector` once it exists and satisfies `accept`.
async fn text_when(
    client: &Client,
    selector: &str,
    accept: impl Fn(&str) -> bool,
) -> Result<String, Box<dyn Error + Send + Sync>> {
    let accept = &accept;
    let text = wait::until(
        &format!("{selector} to show the expected text"),
        UI_TIMEOUT,
        || async move {
            let element = client.find(Locator::Css(selector)).await.ok()?;
            let text = element.text().await.ok()?;
            accept(&text).then_some(text)
        },
    )
    .await?;
    Ok(text)
}

struct Saved {
    path: std::path::PathBuf,
    colours: usize,
}

/// Captures the whole (virtual) display as a person would see it and keeps it as an artefact.
async fn screenshot(name: &'static str) -> Result<Saved, Box<dyn Error + Send + Sync>> {
    tokio::task::spawn_blocking(move || {
        let shot = capture_screen()?;
        let path = artifacts::save(name, &shot.to_png()?)?;
        Ok(Saved {
            path,
            colours: shot.distinct_colours(),
        })
    })
    .await?
}
