//! Wayland screen sharing through the real xdg-desktop-portal and PipeWire, against a private
//! headless sway each test starts: the share picker lists what the portal offers, the shared
//! screen arrives at its native size and follows what the compositor paints (colour changes
//! read back from the captured frames), the share ends with a clear error when the desktop's
//! side goes away, and a bus without a portal is a clear error rather than a hang.

#[path = "../../../confab-rtc/tests/common/mod.rs"]
mod common;
mod desktop;
mod proxy;
#[path = "../shared/screen_share.rs"]
mod screen_share;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scenarios::join_room;
use common::{Looping, join_token};
use screen_share::share_and_watch;

use confab_media::i420::VideoFrame;
use confab_media::screen::wayland::{PortalScreens, SCREEN_ID, WINDOW_ID};
use confab_media::screen::{ScreenBackend, ScreenError, ShareKind, ShareOptions};
use confab_media::sync::lock;
use confab_media::video::convert::{PackedRgb, rgb_to_i420};
use confab_media::video::source::{CaptureError, VideoSource};
use desktop::{Brush, Colour, Desktop, SIZE};

const ORANGE: Colour = Colour(0xd0, 0x40, 0x10);
const BLUE: Colour = Colour(0x20, 0x60, 0xc0);
const GREEN: Colour = Colour(0x10, 0xa0, 0x30);
const DEADLINE: Duration = Duration::from_secs(20);
/// Rounding in two colour conversions (the compositor's and ours).
const TOLERANCE: i32 = 3;
/// ...and a VP8 round trip on top.
const DECODED_TOLERANCE: i32 = 8;

/// The Y, U and V a solid `colour` has in I420.
fn yuv_of(colour: Colour) -> (u8, u8, u8) {
    let pixels = [colour.0, colour.1, colour.2].repeat(4);
    let frame = rgb_to_i420(&pixels, 2, 2, 6, PackedRgb::RGB24).expect("convert");
    let planes = frame.planes();
    (planes.y[0], planes.u[0], planes.v[0])
}

/// Whether every sampled pixel of `frame` (corners, edges' middles, centre) is `colour`,
/// within `tolerance` per plane.
fn is_solid(frame: &VideoFrame, colour: Colour, tolerance: i32) -> bool {
    let (y, u, v) = yuv_of(colour);
    let near = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= tolerance;
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let chroma_width = frame.layout().chroma_width();
    let planes = frame.planes();
    let spots = [0, width / 2, width - 1];
    let rows = [0, height / 2, height - 1];
    rows.iter().all(|&row| {
        spots.iter().all(|&column| {
            let chroma = (row / 2) * chroma_width + column / 2;
            near(planes.y[row * width + column], y)
                && near(planes.u[chroma], u)
                && near(planes.v[chroma], v)
        })
    })
}

/// Paints the screen `colour` and captures until a frame shows it everywhere; returns how
/// many frames that took. wlroots copies a frame for the portal only when the screen is next
/// redrawn, so a change that lands between two copies shows with the following redraw: the
/// colour is painted again every few frames, as a live screen would redraw.
fn paint_and_capture(share: &mut dyn VideoSource, colour: Colour, desktop: &Desktop) -> usize {
    const REPAINT_EVERY: usize = 10;
    let deadline = Instant::now() + DEADLINE;
    let mut frames = 0;
    loop {
        if frames % REPAINT_EVERY == 0 {
            desktop.paint(colour);
        }
        let captured = share
            .capture()
            .unwrap_or_else(|error| panic!("capture: {error}\n{}", desktop.logs()));
        frames += 1;
        let layout = captured.frame.layout();
        assert_eq!(
            (layout.width, layout.height),
            SIZE,
            "the screen's native size"
        );
        if is_solid(&captured.frame, colour, TOLERANCE) {
            return frames;
        }
        assert!(
            Instant::now() < deadline,
            "the share never showed {colour:?} ({frames} frames)\n{}",
            desktop.logs()
        );
    }
}

#[test]
fn the_picker_offers_what_the_portal_shares() {
    let desktop = Desktop::start(ORANGE);
    let screens = PortalScreens::connect(Some(&desktop.bus)).expect("the portal answers");
    assert_eq!(screens.name(), "Wayland (xdg-desktop-portal + PipeWire)");
    let targets = screens.targets().expect("targets");
    let screen = targets
        .iter()
        .find(|target| target.id == SCREEN_ID)
        .expect("a screen is offered");
    assert_eq!(screen.kind, ShareKind::Screen);
    // xdg-desktop-portal-wlr shares outputs only; a window is offered only where the portal
    // can share one.
    assert!(targets.iter().all(|target| target.id != WINDOW_ID));
    assert!(matches!(
        screens.open(WINDOW_ID, ShareOptions::default()),
        Err(ScreenError::NotFound(_))
    ));
}

#[test]
fn the_shared_screen_follows_what_the_compositor_paints() {
    let desktop = Desktop::start(ORANGE);
    let screens = PortalScreens::connect(Some(&desktop.bus)).expect("the portal answers");
    let mut share = screens
        .open(SCREEN_ID, ShareOptions::default())
        .unwrap_or_else(|error| panic!("open the share: {error}\n{}", desktop.logs()));
    let layout = share.layout();
    assert_eq!((layout.width, layout.height), SIZE, "the portal's size");
    // wlroots copies a frame when the screen changes: each colour is a change to follow.
    for colour in [BLUE, GREEN, ORANGE] {
        paint_and_capture(share.as_mut(), colour, &desktop);
    }
}

#[test]
fn the_share_ends_with_a_clear_error_when_the_desktop_stops_it() {
    let mut desktop = Desktop::start(ORANGE);
    let screens = PortalScreens::connect(Some(&desktop.bus)).expect("the portal answers");
    let mut share = screens
        .open(SCREEN_ID, ShareOptions::default())
        .unwrap_or_else(|error| panic!("open the share: {error}\n{}", desktop.logs()));
    paint_and_capture(share.as_mut(), BLUE, &desktop);
    // The portal's backend owns the stream's PipeWire node: without it the stream is gone.
    desktop.stop_portal_backend();
    let deadline = Instant::now() + DEADLINE;
    loop {
        match share.capture() {
            Err(CaptureError::Gone(reason)) => {
                assert!(!reason.is_empty());
                break;
            }
            Err(other) => panic!("expected the share to be gone, got {other}"),
            Ok(_) => assert!(
                Instant::now() < deadline,
                "the share went on after the desktop stopped it"
            ),
        }
    }
}

#[test]
fn a_bus_without_a_portal_is_a_clear_error() {
    let bus = desktop::BareBus::start();
    match PortalScreens::connect(Some(&bus.address)) {
        Err(ScreenError::Portal(reason)) => assert!(reason.contains("portal"), "{reason}"),
        other => panic!("expected a portal error, got {other:?}"),
    }
}

/// Keeps repainting the screen in the colour of the moment, as a live screen redraws.
struct Repainter {
    colour: Arc<Mutex<Colour>>,
    _painting: Looping,
}

impl Repainter {
    fn start(brush: Brush, first: Colour) -> Self {
        let colour = Arc::new(Mutex::new(first));
        let now = Arc::clone(&colour);
        let painting = Looping::start(move || {
            brush.paint(*lock(&now));
            // The redraw rate of this fake screen, not a wait for anything.
            std::thread::sleep(Duration::from_millis(150));
        });
        Self {
            colour,
            _painting: painting,
        }
    }

    fn set(&self, colour: Colour) {
        *lock(&self.colour) = colour;
    }
}

/// Alice shares her Wayland screen through the embedded SFU; Bob decodes it and sees each
/// colour she paints, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_wayland_screen_reaches_another_client_through_the_sfu() {
    const KEY: &str = "APIwayland";
    const SECRET: &str = "wayland-secret-wayland-secret-wayland-secret";
    let desktop = Desktop::start(ORANGE);
    let repainter = Repainter::start(desktop.brush(), BLUE);
    // Opened from async code, as the app does.
    let share = PortalScreens::connect(Some(&desktop.bus))
        .and_then(|screens| screens.open(SCREEN_ID, ShareOptions::default()))
        .unwrap_or_else(|error| panic!("open the share: {error}\n{}", desktop.logs()));
    let sfu = common::start_sfu(KEY, SECRET).await;
    let url = format!("http://{}", sfu.local_addr());
    let token = |identity| join_token(KEY, SECRET, "wayland-share", identity);
    let (alice, _alice_events) = join_room(&url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(&url, &token("bob")).await;
    let (sender, mut receiver) = share_and_watch(&alice, "alice", share, &mut bob_events).await;
    for colour in [BLUE, GREEN] {
        repainter.set(colour);
        let seen = tokio::time::timeout(DEADLINE, async {
            loop {
                receiver.frames.changed().await.expect("decoder stopped");
                let Some(decoded) = receiver.frames.borrow_and_update().clone() else {
                    continue;
                };
                if is_solid(&decoded.frame, colour, DECODED_TOLERANCE) {
                    return;
                }
            }
        })
        .await;
        assert!(seen.is_ok(), "bob never saw {colour:?}\n{}", desktop.logs());
    }
    drop(repainter);
    sender.stop().expect("sender");
    receiver.task.stop().expect("receiver");
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
}
