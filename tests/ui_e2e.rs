//! UI end-to-end: the release-built desktop app in a real window (Xvfb), driven through
//! tauri-driver and WebKitWebDriver as a person would use it.

use std::error::Error;
use std::time::Duration;

use confab_test_harness::browser_peer::{self, BrowserPeer};
use confab_test_harness::notifications::NotificationWatch;
use confab_test_harness::process::{ChildGuard, descendants};
use confab_test_harness::screen_capture::capture_screen;
use confab_test_harness::tauri_driver::{TauriDriver, app_binary};
use confab_test_harness::{artifacts, keyboard, wait, x11_windows};
use fantoccini::{Client, ClientBuilder, Locator};

type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

/// How long a raised window gets to paint before a screenshot is taken anyway.
const RAISE_PAINT: Duration = Duration::from_secs(3);
/// Generous: the first WebKit start on a cold, loaded CI machine is slow.
const UI_TIMEOUT: Duration = Duration::from_secs(60);
/// `cargo xtask run` rebuilds the UI and relinks the app before the window opens.
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

#[tokio::test]
async fn home_screen_validates_join_codes_in_the_real_app() -> TestResult {
    let application = app_binary()?;
    // Loopback only: joining by a code alone must not search this machine's network.
    let driver = TauriDriver::start_with_env(&app_env("home")).await?;
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
    // A valid code that nobody hosts: the app says so (here without asking the LAN).
    let status = text_when(client, "#join-status", |text| !text.is_empty()).await?;
    assert!(
        status.contains("No meeting with this code answered"),
        "{status}"
    );
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

/// Where the apps host: the address `cargo xtask` gave the test network's `apps` host, whose
/// namespace this test runs in (a browser tab in another namespace of that network reaches
/// it, which it could not on loopback); loopback when run without that network.
fn host_address() -> String {
    std::env::var("CONFAB_E2E_APPS_IP").unwrap_or_else(|_| "127.0.0.1".into())
}

/// The environment of an app instance in these tests: it hosts on [`host_address`] only (a
/// test must not use this machine's network, so joining by a code alone does not search it
/// either), its
/// camera and microphone are the stamped test pattern and a tone, it remembers its picks and
/// name in a fresh folder of its own (named `instance`), not the user's config, and it runs
/// beside other instances (the meeting test's host and guest; the invitation test, which
/// needs one instance per desktop, gives its app a session bus of its own instead).
fn app_env(instance: &str) -> Vec<(&'static str, String)> {
    let mut env = single_app_env(instance);
    env.push(("CONFAB_ALLOW_SECOND_INSTANCE", "1".into()));
    env
}

/// [`app_env`] for an app that is the only one on its desktop. Received files go to its
/// `downloads` folder; what it asks the system to open is written to its `opened` file (a
/// stand-in `xdg-open` first on its `PATH`, the OS boundary).
fn single_app_env(instance: &str) -> Vec<(&'static str, String)> {
    let folder = instance_folder(instance);
    let _ = std::fs::remove_dir_all(&folder);
    let bin = folder.join("bin");
    let opener = bin.join("xdg-open");
    let made = std::fs::create_dir_all(&bin)
        .and_then(|()| std::fs::write(&opener, FAKE_OPENER))
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755))
        });
    if let Err(error) = made {
        println!("no stand-in xdg-open for {instance}: {error}");
    }
    let path = std::env::var("PATH").unwrap_or_default();
    vec![
        ("CONFAB_HOST_BIND", host_address()),
        ("CONFAB_TEST_MEDIA", "1".into()),
        (
            "CONFAB_CONFIG_DIR",
            folder.join("config").display().to_string(),
        ),
        (
            "CONFAB_DOWNLOAD_DIR",
            folder.join("downloads").display().to_string(),
        ),
        (
            "CONFAB_E2E_OPENED",
            folder.join("opened").display().to_string(),
        ),
        ("PATH", format!("{}:{path}", bin.display())),
    ]
}

/// The scratch folder of the app instance `instance` in this run.
fn instance_folder(instance: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("confab-e2e-{}-{instance}", std::process::id()))
}

/// `xdg-open` for the tests: notes what it was asked to open.
const FAKE_OPENER: &str = "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$CONFAB_E2E_OPENED\"\n";

/// A D-Bus session bus of the test's own (the single-instance plugin's meeting point), gone
/// with it, so no other test's app can answer for this one.
struct PrivateBus {
    daemon: std::process::Child,
    address: String,
}

impl PrivateBus {
    fn start() -> Result<Self, Box<dyn Error + Send + Sync>> {
        use std::io::BufRead;
        let mut daemon = std::process::Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = daemon.stdout.take().ok_or("dbus-daemon has no stdout")?;
        let mut address = String::new();
        std::io::BufReader::new(stdout).read_line(&mut address)?;
        let address = address.trim().to_owned();
        if address.is_empty() {
            let _ = daemon.kill();
            return Err("dbus-daemon printed no address".into());
        }
        Ok(Self { daemon, address })
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A `confab://join/…` link clicked while the app runs starts a second instance, which hands
/// the link to the running one and exits; the running window's join form shows it.
#[tokio::test]
async fn an_invitation_link_opened_while_the_app_runs_reaches_its_join_form() -> TestResult {
    let bus = PrivateBus::start()?;
    let mut env = single_app_env("links");
    env.push(("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()));
    let application = app_binary()?;
    let driver = TauriDriver::start_with_env(&env).await?;
    let client = ClientBuilder::native()
        .capabilities(TauriDriver::capabilities(&application))
        .connect(&driver.url())
        .await?;
    let outcome = open_a_link(&client, &application, &env).await;
    if outcome.is_err() {
        let _ = screenshot("ui-e2e-link-failure.png").await;
    }
    client.close().await?;
    outcome
}

async fn open_a_link(
    client: &Client,
    application: &std::path::Path,
    env: &[(&'static str, String)],
) -> TestResult {
    client
        .wait()
        .at_most(UI_TIMEOUT)
        .for_element(Locator::Css("#join-code"))
        .await?;
    let link = "confab://join/abc-defg-hij?host=127.0.0.1:7880";
    let mut second = std::process::Command::new(application);
    second
        .arg(link)
        .envs(env.iter().map(|(key, value)| (key, value)));
    let second = ChildGuard::spawn(second)?;
    let pid = second.id();
    let mut second = second;
    wait::until(
        "the second launch to hand over and exit",
        UI_TIMEOUT,
        || {
            let exited = second.has_exited();
            async move { exited.then_some(()) }
        },
    )
    .await?;
    println!("second launch (pid {pid}) exited");
    wait::until("the link in the join form", UI_TIMEOUT, || async {
        let field = client.find(Locator::Css("#join-code")).await.ok()?;
        let value = field.prop("value").await.ok()??;
        (value == link).then_some(())
    })
    .await?;
    Ok(())
}

/// Reads the test pattern's stamp from a tile's canvas (its pixels, through a 2D copy).
const READ_TILE_STAMP: &str = concat!(
    include_str!("harness/stamp.js"),
    "\nconst canvas = document.querySelector(arguments[0]);\n",
    "const stamp = canvas ? readCanvasStamp(canvas) : null;\n",
    "return stamp ? stamp.counter : null;\n"
);

/// One app instance, driven through its own tauri-driver.
struct AppWindow {
    client: Client,
    driver: TauriDriver,
}

impl AppWindow {
    async fn open(instance: &str) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let application = app_binary()?;
        let driver = TauriDriver::start_with_env(&app_env(instance)).await?;
        let client = ClientBuilder::native()
            .capabilities(TauriDriver::capabilities(&application))
            .connect(&driver.url())
            .await?;
        client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css("#display-name"))
            .await?;
        Ok(Self { client, driver })
    }

    async fn type_into(&self, selector: &str, text: &str) -> TestResult {
        let input = self.client.find(Locator::Css(selector)).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        Ok(())
    }

    /// The element `selector` names, once it is on screen.
    async fn element(
        &self,
        selector: &str,
    ) -> Result<fantoccini::elements::Element, Box<dyn Error + Send + Sync>> {
        Ok(self
            .client
            .wait()
            .at_most(UI_TIMEOUT)
            .for_element(Locator::Css(selector))
            .await?)
    }

    async fn click(&self, selector: &str) -> TestResult {
        self.element(selector).await?.click().await?;
        Ok(())
    }

    async fn wait_for(&self, selector: &str) -> TestResult {
        self.element(selector).await.map(drop)
    }

    /// This app's window on top, then the display captured (WebKitWebDriver's own
    /// screenshot command never returns on a GPU-less Xvfb).
    async fn screenshot(&self, name: &'static str) -> TestResult {
        let window = self.window().await?;
        let before = tokio::task::spawn_blocking(capture_screen).await??;
        tokio::task::spawn_blocking(move || x11_windows::raise(window.id)).await??;
        // Xvfb keeps no pixels of a covered window: the raised one paints itself anew, a
        // moment later. Wait for the picture to change (it may not, when both windows show
        // the same screen), at most RAISE_PAINT.
        let repainted = wait::until("the raised window to paint", RAISE_PAINT, || {
            let before = before.clone();
            async move {
                let now = tokio::task::spawn_blocking(capture_screen)
                    .await
                    .ok()?
                    .ok()?;
                (now.rgb != before.rgb).then_some(())
            }
        })
        .await;
        if repainted.is_err() {
            println!("screenshot {name}: the display did not change on raising this window");
        }
        let saved = screenshot(name).await?;
        println!("screenshot: {}", saved.path.display());
        Ok(())
    }

    /// This app's window on the display.
    async fn window(&self) -> Result<x11_windows::FoundWindow, Box<dyn Error + Send + Sync>> {
        let driver = self.driver.pid();
        let window = tokio::task::spawn_blocking(move || {
            let ours = descendants(driver);
            x11_windows::find_by_title("Confab")
                .ok()?
                .into_iter()
                .find(|window| window.pid.is_some_and(|pid| ours.contains(&pid)))
        })
        .await?
        .ok_or("this app's window is not on the display")?;
        Ok(window)
    }

    /// Gives this app's window the keyboard focus, putting every other in the background.
    async fn focus(&self) -> TestResult {
        let window = self.window().await?;
        tokio::task::spawn_blocking(move || x11_windows::focus(window.id)).await??;
        Ok(())
    }

    /// Waits until the canvas `selector` draws frames decoded at a size `wanted` accepts.
    async fn source_size_becomes(
        &self,
        selector: &str,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> TestResult {
        let read = "const c = document.querySelector(arguments[0]); \
                    return c ? c.getAttribute('data-source-size') : null;";
        wait::until(what, UI_TIMEOUT, || async {
            let size = self
                .client
                .execute(read, vec![serde_json::json!(selector)])
                .await
                .ok()?;
            size.as_str().filter(|size| wanted(size)).map(str::to_owned)
        })
        .await?;
        Ok(())
    }

    /// How many frames the canvas `selector` has drawn, once it exists.
    async fn frames_drawn(&self, selector: &str) -> Option<u64> {
        let read = "const c = document.querySelector(arguments[0]); \
                    return c ? c.getAttribute('data-frames') : null;";
        let frames = self
            .client
            .execute(read, vec![serde_json::json!(selector)])
            .await
            .ok()?;
        frames.as_str()?.parse().ok()
    }

    /// The stamp counter a canvas shows now, if one does.
    async fn stamp(&self, canvas: &str) -> Option<u64> {
        self.client
            .execute(READ_TILE_STAMP, vec![serde_json::json!(canvas)])
            .await
            .ok()?
            .as_u64()
    }
}

#[tokio::test]
async fn two_apps_meet_the_host_admits_they_see_each_other_chat_and_the_host_ends() -> TestResult {
    let host = AppWindow::open("host").await?;
    let guest = AppWindow::open("guest").await?;
    let outcome = meet(&host, &guest).await;
    if outcome.is_err() {
        let _ = screenshot("ui-e2e-meeting-failure.png").await;
    }
    for app in [host, guest] {
        let _ = app.client.close().await;
    }
    outcome
}

async fn meet(host: &AppWindow, guest: &AppWindow) -> TestResult {
    // Ada checks her camera and microphone first: the picture moves, the meter shows sound.
    host.click("#check-devices").await?;
    let preview = ".preview canvas.video";
    let first = wait::until("the preview's stamp", UI_TIMEOUT, || host.stamp(preview)).await?;
    wait::until("a later preview stamp", UI_TIMEOUT, || async {
        host.stamp(preview).await.filter(|counter| *counter > first)
    })
    .await?;
    let meter = host.element("#mic-level").await?;
    wait::until("the tone on the meter", UI_TIMEOUT, || async {
        let value = meter.attr("value").await.ok()??;
        value.parse::<f64>().ok().filter(|level| *level > 0.3)
    })
    .await?;
    host.screenshot("ui-e2e-meeting-0-device-check.png").await?;
    host.click("#close-check").await?;
    host.wait_for("#check-devices").await?;

    // Ada hosts.
    host.type_into("#display-name", "Ada").await?;
    host.click("#host-button").await?;
    host.wait_for("#stage").await?;
    let invite = host
        .client
        .find(Locator::Css("#invite-link"))
        .await?
        .prop("value")
        .await?
        .ok_or("no invitation link")?;
    assert!(invite.starts_with("confab://join/"), "{invite}");
    host.screenshot("ui-e2e-meeting-1-host.png").await?;

    // Bob turns on push-to-talk in any app (remembered), then joins with the invitation and
    // waits.
    guest.click("#settings-button").await?;
    guest.click("#global-ptt").await?;
    wait::until("push-to-talk on", UI_TIMEOUT, || async {
        let read = "const box = document.querySelector('#global-ptt'); \
                    return !!(box && box.checked);";
        let on = guest.client.execute(read, vec![]).await.ok()?;
        (on == serde_json::Value::Bool(true)).then_some(())
    })
    .await?;
    if let Ok(problem) = guest.client.find(Locator::Css("#settings-error")).await {
        return Err(format!("push-to-talk refused: {}", problem.text().await?).into());
    }
    guest.click("#settings-back").await?;
    guest.type_into("#display-name", "Bob").await?;
    guest.type_into("#join-code", &invite).await?;
    guest.click("#join-button").await?;
    text_when(&guest.client, "#waiting", |text| {
        text.contains("Waiting for the host")
    })
    .await?;
    guest.screenshot("ui-e2e-meeting-2-waiting.png").await?;

    // Ada sees him knock and lets him in.
    host.click("#people-button").await?;
    text_when(&host.client, "#waiting-list", |text| text.contains("Bob")).await?;
    host.screenshot("ui-e2e-meeting-3-admit.png").await?;
    host.click("#waiting-list li .admit").await?;

    // Both see each other's camera: the test pattern's counter read from the tiles' canvases
    // (the pixels drawn), advancing.
    guest.wait_for("#stage").await?;
    let ada_tile = "#stage .tile:not([data-identity^='guest']) canvas.video";
    let first = wait::until("Ada's stamp on Bob's canvas", UI_TIMEOUT, || {
        guest.stamp(ada_tile)
    })
    .await?;
    let later = wait::until("a later stamp", UI_TIMEOUT, || async {
        guest
            .stamp(ada_tile)
            .await
            .filter(|counter| *counter > first)
    })
    .await?;
    let bob_tile = "#stage .tile[data-identity^='guest'] canvas.video";
    let seen = wait::until("Bob's stamp on Ada's canvas", UI_TIMEOUT, || {
        host.stamp(bob_tile)
    })
    .await?;
    println!("stamps: Bob sees Ada's {first} then {later}; Ada sees Bob's {seen}");
    guest.screenshot("ui-e2e-meeting-4-guest-video.png").await?;

    bob_talks_while_holding_the_keys(host, guest).await?;

    // Cy knocks while Ada's window is in the background: Ada's desktop is told.
    let notifications = NotificationWatch::start(UI_TIMEOUT).await?;
    guest.focus().await?;
    let mut cy = a_browser_tab_joins(host, &invite, &notifications).await?;

    // Chat from Bob reaches Ada.
    guest.click("#chat-button").await?;
    guest.type_into("#chat-input", "hello Ada").await?;
    guest.click("#chat-send").await?;
    host.click("#chat-button").await?;
    text_when(&host.client, "#chat-log", |text| {
        text.contains("hello Ada") && text.contains("Bob")
    })
    .await?;
    host.screenshot("ui-e2e-meeting-5-host-chat.png").await?;

    cy_sends_a_file_ada_opens_it(host, &mut cy).await?;

    // Ada shares her (test) screen: Bob's tile for her shows the share, decoded at the
    // screen's own 1920×1080 (her camera's largest layer is 1280×720); she stops, and her
    // camera is back.
    host.click("#share-button").await?;
    host.click("#share-picker .share-target").await?;
    guest
        .source_size_becomes(ada_tile, "Ada's share on Bob's tile", |size| {
            size == "1920x1080"
        })
        .await?;
    guest.screenshot("ui-e2e-meeting-6-share.png").await?;
    host.click("#share-button").await?;
    guest
        .source_size_becomes(ada_tile, "Ada's camera again", |size| size != "1920x1080")
        .await?;

    // Ada ends the meeting: Bob is told why.
    host.click("#end-button").await?;
    let ended = text_when(&guest.client, "#ended-message", |text| !text.is_empty()).await?;
    assert_eq!(ended, "The host ended the meeting");
    guest.screenshot("ui-e2e-meeting-7-ended.png").await?;
    cy.expect("Cy's tab to be disconnected", UI_TIMEOUT, |event| {
        browser_peer::is(event, "disconnected")
    })
    .await?;
    Ok(())
}

/// Cy joins by the meeting's code from a browser tab running LiveKit's own SDK
/// (`livekit-client`): she knocks, and Ada, whose window is in the background, gets a desktop
/// notification and lets her in from the waiting list; Ada's grid draws Cy's camera
/// (Chromium's fake one) and Cy's tab decodes Ada's.
async fn a_browser_tab_joins(
    host: &AppWindow,
    invite: &str,
    notifications: &NotificationWatch,
) -> Result<BrowserPeer, Box<dyn Error + Send + Sync>> {
    let (code, address) = invitation_parts(invite)?;
    let mut cy = BrowserPeer::join_by_code(address, code, "Cy")?;
    let waiting = cy
        .expect("Cy's tab to wait", UI_TIMEOUT, |event| {
            browser_peer::is(event, "waiting")
        })
        .await?;
    let identity = waiting["identity"]
        .as_str()
        .ok_or("the tab's waiting event names no identity")?
        .to_owned();
    let knock = format!("#waiting-list li[data-identity='{identity}']");
    text_when(&host.client, &knock, |text| text.contains("Cy")).await?;
    notifications
        .until_summary("Cy is waiting to join", UI_TIMEOUT)
        .await?;
    host.click(&format!("{knock} .admit")).await?;
    cy.expect("Cy's tab to publish", UI_TIMEOUT, |event| {
        browser_peer::is(event, "joined")
    })
    .await?;

    let cy_tile = format!("#stage .tile[data-identity='{identity}'] canvas.video");
    let first = wait::until("Cy's camera on Ada's canvas", UI_TIMEOUT, || async {
        host.frames_drawn(&cy_tile)
            .await
            .filter(|frames| *frames > 0)
    })
    .await?;
    let later = wait::until("more of Cy's frames drawn", UI_TIMEOUT, || async {
        host.frames_drawn(&cy_tile)
            .await
            .filter(|frames| *frames > first + 10)
    })
    .await?;
    host.source_size_becomes(&cy_tile, "the size of Cy's camera", |size| !size.is_empty())
        .await?;
    let decoded = frames_the_tab_decoded_from_the_host(&mut cy).await?;
    println!(
        "Cy's tab: Ada's app drew {first} then {later} of her frames; she decoded {decoded} of Ada's"
    );
    host.screenshot("ui-e2e-meeting-4b-browser-guest.png")
        .await?;
    Ok(cy)
}

/// Bob mutes; holding Ctrl+Alt+Space — with Ada's window in front, not his — turns his
/// microphone on for Ada to see, and letting go mutes him again.
async fn bob_talks_while_holding_the_keys(host: &AppWindow, guest: &AppWindow) -> TestResult {
    let bob_mic = "#stage .tile[data-identity^='guest'] .mic";
    let mic_seen = |state: &'static str| async move {
        wait::until(
            &format!("Bob's microphone {state} on Ada's tile"),
            UI_TIMEOUT,
            || async {
                let label = host
                    .element(bob_mic)
                    .await
                    .ok()?
                    .attr("aria-label")
                    .await
                    .ok()??;
                (label == format!("microphone {state}")).then_some(())
            },
        )
        .await
    };
    guest.click("#mic-button").await?;
    mic_seen("off").await?;
    host.focus().await?;
    let keys = [keyboard::CONTROL_L, keyboard::ALT_L, keyboard::SPACE];
    tokio::task::spawn_blocking(move || keyboard::press(&keys)).await??;
    let held = mic_seen("on").await;
    tokio::task::spawn_blocking(move || keyboard::release(&keys)).await??;
    held?;
    mic_seen("off").await?;
    Ok(())
}

/// Cy sends a file from her tab to everyone: Ada's chat shows it saved, the bytes on disk are
/// Cy's, and Open and Show in folder hand the file and its folder to the system's opener.
async fn cy_sends_a_file_ada_opens_it(host: &AppWindow, cy: &mut BrowserPeer) -> TestResult {
    use base64::Engine;
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(&content);
    cy.send(
        &serde_json::json!({"cmd": "send-file", "tab": 0, "name": "from-cy.bin", "data": data}),
    )?;
    cy.expect("Cy's file sent", UI_TIMEOUT, |event| {
        browser_peer::is(event, "file-sent")
    })
    .await?;
    let received = "#transfers li:not(.outgoing)";
    let state = text_when(&host.client, &format!("{received} .state"), |text| {
        text.starts_with("Saved to ")
    })
    .await?;
    let path = std::path::PathBuf::from(state.trim_start_matches("Saved to ").trim());
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("from-cy.bin")
    );
    assert!(
        path.starts_with(instance_folder("host").join("downloads")),
        "{}",
        path.display()
    );
    let saved = std::fs::read(&path)?;
    assert!(saved == content, "the saved file differs from what Cy sent");
    host.screenshot("ui-e2e-meeting-5b-file-received.png")
        .await?;

    host.click(&format!("{received} .open-file")).await?;
    host.click(&format!("{received} .show-file")).await?;
    let opened = instance_folder("host").join("opened");
    let folder = path
        .parent()
        .ok_or("a saved file has a folder")?
        .to_path_buf();
    wait::until("the file and its folder opened", UI_TIMEOUT, || {
        let asked = std::fs::read_to_string(&opened).unwrap_or_default();
        let lines: Vec<std::path::PathBuf> = asked.lines().map(Into::into).collect();
        let both = lines.contains(&path) && lines.contains(&folder);
        async move { both.then_some(()) }
    })
    .await?;
    Ok(())
}

/// Polls the tab's receive statistics until it has decoded video from the host (the only
/// participant whose identity is not a guest's).
async fn frames_the_tab_decoded_from_the_host(
    tab: &mut BrowserPeer,
) -> Result<u64, Box<dyn Error + Send + Sync>> {
    let deadline = tokio::time::Instant::now() + UI_TIMEOUT;
    loop {
        tab.send(&serde_json::json!({"cmd": "stats", "tab": 0}))?;
        let stats = tab
            .expect("the tab's statistics", UI_TIMEOUT, |event| {
                browser_peer::is(event, "stats")
            })
            .await?;
        let decoded: u64 = stats["tracks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|track| track["kind"] == "video")
            .filter(|track| {
                track["from"]
                    .as_str()
                    .is_some_and(|from| !from.starts_with("guest-"))
            })
            .filter_map(|track| track["framesDecoded"].as_u64())
            .sum();
        if decoded > 0 {
            return Ok(decoded);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("Cy's tab decoded none of Ada's video; last: {stats}").into());
        }
        // Statistics are polled: WebRTC raises no event when a counter changes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The code and the host's `address:port` of `confab://join/<code>?host=<address:port>`.
fn invitation_parts(invite: &str) -> Result<(&str, &str), Box<dyn Error + Send + Sync>> {
    let rest = invite
        .strip_prefix("confab://join/")
        .ok_or_else(|| format!("not an invitation: {invite}"))?;
    let (code, query) = rest
        .split_once("?host=")
        .ok_or_else(|| format!("the invitation names no host: {invite}"))?;
    Ok((code, query.split('&').next().unwrap_or(query)))
}
