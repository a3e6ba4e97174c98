//! `cargo xtask bench ui`: the desktop app, then headless Chromium with LiveKit's browser SDK
//! (`livekit-client`), watching the same meeting in the same run — nine cameras at 640×360 and
//! a 1920×1080 screen share, 30 fps each, from light publishers (`confab join --load-video`:
//! a clip encoded once and replayed) on `confab server`. Each watcher's whole process tree is
//! measured (CPU time from `/proc`) with the frames it painted. Prints `BENCH …` lines, which
//! `cargo xtask bench ui` turns into docs/BENCHMARKS.md. Not a test: it asserts nothing about
//! speed, and runs only through that command (it needs the release app, Xvfb and the test
//! network).

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use confab_conference::models::{CreateRequest, Role};
use confab_conference::{Signer, Standing};
use confab_meeting::ConferenceClient;
use confab_test_harness::browser_peer::{self, BrowserPeer};
use confab_test_harness::cpu::TreeCpu;
use confab_test_harness::process::{ChildGuard, descendants};
use confab_test_harness::tauri_driver::{TauriDriver, app_binary};
use confab_test_harness::wait;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

type BenchResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

const CAMERAS: usize = 9;
const CAMERA: &str = "camera:640x360";
const SHARE: &str = "screen:1920x1080";
/// `confab server --dev`'s key.
const API_KEY: &str = "devkey";
const API_SECRET: &str = "secret";
const PORT: u16 = 7880;
/// Generous: WebKit's first start, and ten publishers' first keyframes, on a loaded machine.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Let decoders, caches and layouts settle before measuring.
const WARM_UP: Duration = Duration::from_secs(5);

#[tokio::test]
async fn the_app_and_chromium_watch_the_same_meeting() -> BenchResult {
    let seconds: u64 = number_from_env("CONFAB_BENCH_SECONDS", 30);
    let rounds: u64 = number_from_env("CONFAB_BENCH_ROUNDS", 2);
    let ip = std::env::var("CONFAB_E2E_APPS_IP")
        .map_err(|_| "CONFAB_E2E_APPS_IP is not set: run `cargo xtask bench ui`")?;
    let cli = std::env::var("CONFAB_CLI_BINARY")
        .map_err(|_| "CONFAB_CLI_BINARY is not set: run `cargo xtask bench ui`")?;
    let _server = start_server(&cli, &ip).await?;
    let meeting = Meeting::create(&format!("{ip}:{PORT}")).await?;
    let _publishers = start_publishers(&cli, &meeting)?;
    let window = Duration::from_secs(seconds);
    for round in 1..=rounds {
        let app = watch_in_the_app(&meeting, window).await?;
        println!("BENCH app round={round} {}", app.summary());
        let layout = app.layout.clone().ok_or("the app reported no layout")?;
        let chromium = watch_in_chromium(&meeting, &layout, window).await?;
        println!("BENCH chromium round={round} {}", chromium.summary());
    }
    Ok(())
}

fn number_from_env(variable: &str, default: u64) -> u64 {
    std::env::var(variable)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// `confab server --dev` on the test network's `apps` address.
async fn start_server(cli: &str, ip: &str) -> BenchResult<ChildGuard> {
    let mut command = Command::new(cli);
    command
        .args(["server", "--dev", "--bind", ip, "--node-ip", ip])
        .args(["--port", &PORT.to_string()])
        .stdout(Stdio::null());
    let server = ChildGuard::spawn(command)?;
    wait::for_listener(format!("{ip}:{PORT}").parse()?, SETUP_TIMEOUT).await?;
    Ok(server)
}

/// A meeting on the server, without a waiting room.
struct Meeting {
    /// `ip:port` of its conference API.
    host: String,
    code: String,
    room: String,
    server_url: String,
    /// The host's token (the host shares the screen).
    host_token: String,
    /// The link the app joins with.
    invite: String,
}

impl Meeting {
    /// Opens the meeting through the conference API, as the app's own client does.
    async fn create(host: &str) -> BenchResult<Self> {
        let signer = Signer::new(API_KEY, API_SECRET);
        let request = CreateRequest {
            host_name: "Sharer".into(),
            title: "UI benchmark".into(),
            waiting_room: false,
            ..CreateRequest::default()
        };
        let created = ConferenceClient::new(host)?
            .create(&signer.service_token("")?, &request)
            .await?;
        Ok(Self {
            host: host.to_owned(),
            code: created.ticket.code.to_string(),
            room: created.ticket.room,
            server_url: created.ticket.server_url,
            host_token: created.ticket.token,
            invite: created.invite,
        })
    }
}

/// The host sharing a 1080p screen, and nine cameras; none of them subscribes to anything.
fn start_publishers(cli: &str, meeting: &Meeting) -> BenchResult<Vec<ChildGuard>> {
    let signer = Signer::new(API_KEY, API_SECRET);
    let mut publishers = vec![publisher(cli, meeting, &meeting.host_token, SHARE)?];
    for camera in 1..=CAMERAS {
        let token = signer.participant_token(
            &meeting.room,
            &format!("camera-{camera}"),
            &format!("Camera {camera}"),
            Role::Guest,
            Standing::Member,
        )?;
        publishers.push(publisher(cli, meeting, &token, CAMERA)?);
    }
    Ok(publishers)
}

fn publisher(cli: &str, meeting: &Meeting, token: &str, load: &str) -> BenchResult<ChildGuard> {
    let mut command = Command::new(cli);
    command
        .args(["join", &meeting.server_url, "--token", token])
        .args(["--load-video", load, "--no-subscribe"])
        .stdout(Stdio::null());
    Ok(ChildGuard::spawn(command)?)
}

/// Where each remote participant's video is on screen: identity → [x, y, width, height]
/// (CSS pixels), and the page's size.
#[derive(Debug, Clone)]
struct Layout {
    rectangles: serde_json::Map<String, Value>,
    viewport: (u32, u32),
}

/// What one watcher did in the measured window.
struct Watched {
    cpu_seconds: f64,
    window: Duration,
    /// Frames painted per remote video in the window.
    frames: Vec<u64>,
    /// Extra `key=value`s for the report.
    notes: Vec<String>,
    layout: Option<Layout>,
}

impl Watched {
    fn summary(&self) -> String {
        let seconds = self.window.as_secs_f64();
        let fps: Vec<f64> = self.frames.iter().map(|f| *f as f64 / seconds).collect();
        let mean = fps.iter().sum::<f64>() / fps.len().max(1) as f64;
        let min = fps.iter().copied().fold(f64::INFINITY, f64::min);
        format!(
            "cpu-seconds={:.2} window-seconds={seconds:.1} videos={} fps-mean={mean:.1} \
             fps-min={:.1} {}",
            self.cpu_seconds,
            fps.len(),
            if min.is_finite() { min } else { 0.0 },
            self.notes.join(" ")
        )
    }
}

/// Frames drawn so far by each remote tile's canvas, with its tile's identity, place and
/// what it decodes.
const READ_TILES: &str = "return [...document.querySelectorAll('#stage .tile canvas.video')]\
    .map((canvas) => { const r = canvas.getBoundingClientRect(); \
      return { identity: canvas.closest('.tile').dataset.identity, \
               frames: Number(canvas.dataset.frames || 0), \
               renderer: canvas.dataset.renderer || '', \
               source: canvas.dataset.sourceSize || '', \
               rectangle: [r.x, r.y, r.width, r.height] }; });";

/// The app joins with the invitation (camera and microphone off), shows the share on its
/// stage (speaker layout), and is measured once all ten videos draw.
async fn watch_in_the_app(meeting: &Meeting, window: Duration) -> BenchResult<Watched> {
    let application = app_binary()?;
    let folder = std::env::temp_dir().join(format!("confab-bench-ui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let env = [
        ("CONFAB_TEST_MEDIA", "1".to_owned()),
        (
            "CONFAB_CONFIG_DIR",
            folder.join("config").display().to_string(),
        ),
    ];
    let driver = TauriDriver::start_with_env(&env).await?;
    let client = ClientBuilder::native()
        .capabilities(TauriDriver::capabilities(&application))
        .connect(&driver.url())
        .await?;
    let watched = join_and_measure(&client, &driver, &application, meeting, window).await;
    let _ = client.close().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&folder);
    watched
}

async fn join_and_measure(
    client: &Client,
    driver: &TauriDriver,
    application: &Path,
    meeting: &Meeting,
    window: Duration,
) -> BenchResult<Watched> {
    let name = element(client, "#display-name").await?;
    name.clear().await?;
    name.send_keys("Watcher").await?;
    client
        .execute(
            "for (const id of ['start-camera', 'start-microphone']) { \
               const box = document.getElementById(id); if (box && box.checked) box.click(); }",
            vec![],
        )
        .await?;
    element(client, "#join-code")
        .await?
        .send_keys(&meeting.invite)
        .await?;
    element(client, "#join-button").await?.click().await?;
    element(client, "#stage").await?;
    if client.find(Locator::Css("#stage.speaker")).await.is_err() {
        element(client, "#layout-button").await?.click().await?;
    }
    let videos = CAMERAS + 1;
    wait::until(
        "all ten videos drawing in the app",
        SETUP_TIMEOUT,
        || async {
            let tiles = read_tiles(client).await?;
            (tiles.len() == videos && tiles.iter().all(|t| t["frames"].as_u64() > Some(0)))
                .then_some(())
        },
    )
    .await?;
    tokio::time::sleep(WARM_UP).await;

    let app = app_process(driver.pid(), application).ok_or("the app's process is not found")?;
    let before = read_tiles(client).await.ok_or("the tiles went away")?;
    let cpu = TreeCpu::start(vec![app]);
    let started = tokio::time::Instant::now();
    tokio::time::sleep(window).await;
    let by_process = cpu.used_by_name();
    let cpu_seconds = by_process.iter().map(|(_, seconds)| seconds).sum();
    let elapsed = started.elapsed();
    let after = read_tiles(client).await.ok_or("the tiles went away")?;

    let frames = frames_between(&before, &after, "identity", "frames");
    let viewport = client
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    let size = |index: usize| viewport[index].as_u64().unwrap_or(0) as u32;
    let rectangles = after
        .iter()
        .filter_map(|tile| {
            Some((
                tile["identity"].as_str()?.to_owned(),
                tile["rectangle"].clone(),
            ))
        })
        .collect();
    let sources = after
        .iter()
        .filter_map(|tile| tile["source"].as_str())
        .collect::<Vec<_>>()
        .join(",");
    let renderer = after
        .first()
        .and_then(|tile| tile["renderer"].as_str())
        .unwrap_or("none")
        .to_owned();
    Ok(Watched {
        cpu_seconds,
        window: elapsed,
        frames,
        notes: vec![
            format!("renderer={renderer}"),
            format!("decoded-sizes={sources}"),
            format!("viewport={}x{}", size(0), size(1)),
            format!("processes={}", processes(&by_process)),
        ],
        layout: Some(Layout {
            rectangles,
            viewport: (size(0), size(1)),
        }),
    })
}

async fn element(client: &Client, selector: &str) -> BenchResult<fantoccini::elements::Element> {
    Ok(client
        .wait()
        .at_most(SETUP_TIMEOUT)
        .for_element(Locator::Css(selector))
        .await?)
}

async fn read_tiles(client: &Client) -> Option<Vec<Value>> {
    match client.execute(READ_TILES, vec![]).await.ok()? {
        Value::Array(tiles) => Some(tiles),
        _ => None,
    }
}

/// How many frames each video (named by `key`) counted between two readings of `counter`.
fn frames_between(before: &[Value], after: &[Value], key: &str, counter: &str) -> Vec<u64> {
    after
        .iter()
        .map(|now| {
            let earlier = before
                .iter()
                .find(|then| then[key] == now[key])
                .and_then(|then| then[counter].as_u64())
                .unwrap_or(0);
            now[counter].as_u64().unwrap_or(0).saturating_sub(earlier)
        })
        .collect()
}

/// The app's own process below tauri-driver (WebKitWebDriver starts it); its WebKit
/// processes are below it.
fn app_process(driver: u32, application: &Path) -> Option<u32> {
    let wanted = std::fs::canonicalize(application).ok()?;
    descendants(driver)
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == wanted))
}

/// A Chromium tab in the `browser` host joins by the code, only watching, lays the videos
/// out where the app drew them, and is measured once all ten paint.
async fn watch_in_chromium(
    meeting: &Meeting,
    layout: &Layout,
    window: Duration,
) -> BenchResult<Watched> {
    let mut tab =
        BrowserPeer::watch_by_code(&meeting.host, &meeting.code, "Browser", layout.viewport)?;
    tab.expect("the tab to join", SETUP_TIMEOUT, |event| {
        browser_peer::is(event, "joined")
    })
    .await?;
    let videos = CAMERAS + 1;
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    loop {
        tab.send(&json!({"cmd": "layout", "tab": 0, "rectangles": layout.rectangles}))?;
        tab.expect("the layout", SETUP_TIMEOUT, |event| {
            browser_peer::is(event, "laid-out")
        })
        .await?;
        let presented = presented(&mut tab).await?;
        if presented.len() == videos && presented.iter().all(|v| v["presented"].as_u64() > Some(0))
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the tab paints {presented:?}, not all ten videos").into());
        }
        // The tab raises no event per painted frame; its counters are polled.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(WARM_UP).await;

    // Chromium's processes: everything below the node driver.
    let cpu = TreeCpu::start(descendants(tab.pid()));
    let before = presented(&mut tab).await?;
    let decoded_before = decoded(&mut tab).await?;
    let started = tokio::time::Instant::now();
    tokio::time::sleep(window).await;
    let by_process = cpu.used_by_name();
    let cpu_seconds = by_process.iter().map(|(_, seconds)| seconds).sum();
    let elapsed = started.elapsed();
    let after = presented(&mut tab).await?;
    let decoded_after = decoded(&mut tab).await?;
    let _ = tab.send(&json!({"cmd": "quit"}));
    let decoded = frames_between(&decoded_before, &decoded_after, "from", "framesDecoded");
    let decoded_fps =
        decoded.iter().sum::<u64>() as f64 / decoded.len().max(1) as f64 / elapsed.as_secs_f64();
    Ok(Watched {
        cpu_seconds,
        window: elapsed,
        frames: frames_between(&before, &after, "from", "presented"),
        notes: vec![
            format!("decoded-fps-mean={decoded_fps:.1}"),
            format!("processes={}", processes(&by_process)),
        ],
        layout: None,
    })
}

/// Frames decoded so far per remote video, from the tab's WebRTC statistics.
async fn decoded(tab: &mut BrowserPeer) -> BenchResult<Vec<Value>> {
    let stats = ask(tab, "stats").await?;
    Ok(stats["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|track| track["kind"] == "video")
        .cloned()
        .collect())
}

/// `name:seconds` per process name, most first, for the report.
fn processes(by_name: &[(String, f64)]) -> String {
    by_name
        .iter()
        .map(|(name, seconds)| format!("{}:{seconds:.2}", name.replace(' ', "_")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Frames painted so far per remote video.
async fn presented(tab: &mut BrowserPeer) -> BenchResult<Vec<Value>> {
    let answer = ask(tab, "presented").await?;
    Ok(answer["videos"].as_array().cloned().unwrap_or_default())
}

/// Sends the tab the command `name` and returns its answer (the event of the same name).
async fn ask(tab: &mut BrowserPeer, name: &str) -> BenchResult<Value> {
    tab.send(&json!({"cmd": name, "tab": 0}))?;
    Ok(tab
        .expect(&format!("the tab's {name}"), SETUP_TIMEOUT, |event| {
            browser_peer::is(event, name)
        })
        .await?)
}
