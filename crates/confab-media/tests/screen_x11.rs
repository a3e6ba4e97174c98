//! X11 screen sharing against a private Xvfb each test starts: a window whose pixels are the
//! stamped test pattern (drawn with `PutImage`), found in the share picker by its title,
//! captured as a window and as part of the whole screen, with and without the cursor, after
//! it moves half off the screen and after it closes — and shared through the embedded SFU to
//! a second client, which reads the painted frame counters back from decoded video.

#[path = "../../confab-rtc/tests/common/mod.rs"]
mod common;
#[path = "shared/screen_share.rs"]
mod screen_share;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::scenarios::join_room;
use common::{Looping, join_token};
use confab_media::i420::{I420Layout, VideoFrame};
use confab_media::screen::x11::X11Screens;
use confab_media::screen::{ScreenBackend, ScreenError, ShareKind, ShareOptions};
use confab_media::video::convert::i420_to_rgba;
use confab_media::video::source::{CaptureError, TestPattern, VideoSource};
use confab_media::video::stamp::{self, FrameStamp};
use screen_share::share_and_watch;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConfigureWindowAux, ConnectionExt, CreateGCAux, CreateWindowAux, ImageFormat,
    PropMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const SCREEN: (u16, u16) = (1280, 720);
const WINDOW: (u16, u16) = (640, 360);
const WINDOW_AT: (i16, i16) = (200, 150);
const TITLE: &str = "Confab shared window";
const DEADLINE: Duration = Duration::from_secs(20);

/// A private X server on a display number it picks itself, black root, no window manager.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-br", "-screen", "0"])
            .arg(format!("{}x{}x24", SCREEN.0, SCREEN.1))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (cargo xtask setup installs it)");
        // Xvfb writes the display number once it accepts connections.
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb's display number");
        assert!(!line.trim().is_empty(), "Xvfb exited before it was ready");
        Self {
            child,
            display: format!(":{}", line.trim()),
        }
    }

    fn connect(&self) -> RustConnection {
        x11rb::connect(Some(&self.display)).expect("connect").0
    }

    fn screens(&self) -> X11Screens {
        X11Screens::connect(Some(&self.display)).expect("screens")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A titled top-level window and the means to paint frames into it.
struct TestWindow {
    connection: RustConnection,
    window: Window,
    gc: u32,
}

impl TestWindow {
    fn open(xvfb: &Xvfb) -> Self {
        let connection = xvfb.connect();
        let screen = &connection.setup().roots[0];
        let (root, depth, visual) = (screen.root, screen.root_depth, screen.root_visual);
        let window = connection.generate_id().expect("id");
        connection
            .create_window(
                depth,
                window,
                root,
                WINDOW_AT.0,
                WINDOW_AT.1,
                WINDOW.0,
                WINDOW.1,
                0,
                WindowClass::INPUT_OUTPUT,
                visual,
                &CreateWindowAux::new().background_pixel(screen.black_pixel),
            )
            .expect("create window");
        connection
            .change_property8(
                PropMode::REPLACE,
                window,
                AtomEnum::WM_NAME,
                AtomEnum::STRING,
                TITLE.as_bytes(),
            )
            .expect("title");
        let gc = connection.generate_id().expect("id");
        connection
            .create_gc(gc, window, &CreateGCAux::new())
            .expect("gc");
        connection.map_window(window).expect("map");
        let shown = Self {
            connection,
            window,
            gc,
        };
        shown.sync();
        shown
    }

    /// Returns once the server has carried out every request sent so far (a round trip on
    /// the same connection), so a capture from any connection sees them.
    fn sync(&self) {
        self.connection
            .get_input_focus()
            .expect("request")
            .reply()
            .expect("round trip");
    }

    /// Paints `frame` (window-sized) into the window, in strips that fit one request.
    fn paint(&self, frame: &VideoFrame) {
        let width = frame.width() as usize;
        let bgrx: Vec<u8> = i420_to_rgba(frame)
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0], 0])
            .collect();
        let depth = self.connection.setup().roots[0].root_depth;
        for (strip, rows) in bgrx.chunks(width * 4 * 48).enumerate() {
            self.connection
                .put_image(
                    ImageFormat::Z_PIXMAP,
                    self.window,
                    self.gc,
                    width as u16,
                    (rows.len() / (width * 4)) as u16,
                    0,
                    (strip * 48) as i16,
                    0,
                    depth,
                    rows,
                )
                .expect("put image");
        }
        self.sync();
    }

    fn move_to(&self, x: i32, y: i32) {
        self.connection
            .configure_window(self.window, &ConfigureWindowAux::new().x(x).y(y))
            .expect("move");
        self.sync();
    }

    fn close(&self) {
        self.connection.destroy_window(self.window).expect("close");
        self.sync();
    }

    fn id(&self) -> String {
        format!("window:{:#x}", self.window)
    }
}

fn pattern_frame(counter_after: usize) -> VideoFrame {
    let layout = I420Layout::new(u32::from(WINDOW.0), u32::from(WINDOW.1)).expect("valid");
    let mut pattern = TestPattern::new(layout, 30);
    (0..counter_after).for_each(|_| drop(pattern.render()));
    pattern.render().frame
}

/// The `width`×`height` luma at (`x`, `y`) of `frame`.
fn crop_luma(
    frame: &VideoFrame,
    (x, y): (usize, usize),
    (width, height): (usize, usize),
) -> Vec<u8> {
    let stride = frame.width() as usize;
    let luma = frame.planes().y;
    (y..y + height)
        .flat_map(|row| luma[row * stride + x..row * stride + x + width].to_vec())
        .collect()
}

/// Video-range black (the root window of `Xvfb -br`, and what is off the screen).
fn is_black(luma: &[u8]) -> bool {
    luma.iter().all(|&y| y == 16)
}

fn capture(source: &mut dyn VideoSource) -> VideoFrame {
    source.capture().expect("capture").frame
}

fn no_cursor() -> ShareOptions {
    ShareOptions {
        cursor: false,
        ..ShareOptions::default()
    }
}

#[test]
fn the_picker_lists_the_screen_and_the_titled_window() {
    let xvfb = Xvfb::start();
    let window = TestWindow::open(&xvfb);
    let targets = xvfb.screens().targets().expect("targets");
    assert_eq!(targets[0].kind, ShareKind::Screen);
    assert_eq!(
        (targets[0].width, targets[0].height),
        (u32::from(SCREEN.0), u32::from(SCREEN.1))
    );
    let shown = targets
        .iter()
        .find(|target| target.name == TITLE)
        .unwrap_or_else(|| panic!("{TITLE} not among {targets:?}"));
    assert_eq!(shown.kind, ShareKind::Window);
    assert_eq!(shown.id, window.id());
    assert_eq!(
        (shown.width, shown.height),
        (u32::from(WINDOW.0), u32::from(WINDOW.1))
    );
    assert!(matches!(
        xvfb.screens().open("window:0x7fffffff", no_cursor()),
        Err(ScreenError::NotFound(_))
    ));
}

#[test]
fn a_window_share_carries_what_is_painted_in_it_frame_by_frame() {
    let xvfb = Xvfb::start();
    let window = TestWindow::open(&xvfb);
    let mut share = xvfb
        .screens()
        .open(&window.id(), no_cursor())
        .expect("open");
    for counter in [7, 8, 30] {
        window.paint(&pattern_frame(counter));
        let frame = capture(share.as_mut());
        assert_eq!((frame.width(), frame.height()), (640, 360));
        let read = stamp::read(&frame).expect("a stamp in the captured window");
        assert_eq!(read.counter, counter as u32);
    }
    // The whole screen holds the same picture where the window is.
    let mut screen = xvfb.screens().open("screen:0", no_cursor()).expect("open");
    let whole = capture(screen.as_mut());
    assert_eq!((whole.width(), whole.height()), (1280, 720));
    let at = (WINDOW_AT.0 as usize, WINDOW_AT.1 as usize);
    let size = (WINDOW.0 as usize, WINDOW.1 as usize);
    let found = stamp::read_luma(&crop_luma(&whole, at, size), size.0, size.1);
    assert_eq!(found.map(|s| s.counter), Some(30));
    // Outside it, the black root.
    assert!(is_black(&crop_luma(&whole, (900, 600), (100, 100))));
}

#[test]
fn a_window_half_off_the_screen_is_black_where_nothing_shows() {
    let xvfb = Xvfb::start();
    let window = TestWindow::open(&xvfb);
    window.paint(&pattern_frame(3));
    window.move_to(i32::from(SCREEN.0) - 320, 100);
    let mut share = xvfb
        .screens()
        .open(&window.id(), no_cursor())
        .expect("open");
    let frame = capture(share.as_mut());
    assert_eq!((frame.width(), frame.height()), (640, 360));
    let off_screen = crop_luma(&frame, (320, 0), (320, 360));
    assert!(is_black(&off_screen), "off-screen part is black");
    let on_screen = crop_luma(&frame, (0, 100), (320, 260));
    assert!(
        on_screen.iter().any(|&y| y > 40),
        "the visible half is the pattern"
    );
}

#[test]
fn the_cursor_is_in_the_picture_unless_turned_off() {
    let xvfb = Xvfb::start();
    let connection = xvfb.connect();
    let root = connection.setup().roots[0].root;
    connection
        .warp_pointer(x11rb::NONE, root, 0, 0, 0, 0, 1000, 600)
        .expect("warp");
    connection
        .get_input_focus()
        .expect("sync")
        .reply()
        .expect("sync");
    let around_pointer = |frame: &VideoFrame| crop_luma(frame, (980, 580), (40, 40));
    let mut with = xvfb
        .screens()
        .open("screen:0", ShareOptions::default())
        .expect("open");
    let drawn = around_pointer(&capture(with.as_mut()));
    assert!(
        drawn.iter().any(|&y| y != 16),
        "no cursor pixels around the pointer"
    );
    let mut without = xvfb.screens().open("screen:0", no_cursor()).expect("open");
    assert!(is_black(&around_pointer(&capture(without.as_mut()))));
}

#[test]
fn a_closed_window_ends_its_share_with_gone() {
    let xvfb = Xvfb::start();
    let window = TestWindow::open(&xvfb);
    let mut share = xvfb
        .screens()
        .open(&window.id(), no_cursor())
        .expect("open");
    capture(share.as_mut());
    window.close();
    match share.capture() {
        Err(CaptureError::Gone(reason)) => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected Gone, got {other:?}"),
    }
    assert!(matches!(
        xvfb.screens().open(&window.id(), no_cursor()),
        Err(ScreenError::NotFound(_))
    ));
}

/// Repaints the window with the advancing test pattern at 30 fps (something playing in it).
fn start_painting(window: TestWindow) -> Looping {
    let layout = I420Layout::new(u32::from(WINDOW.0), u32::from(WINDOW.1)).expect("valid");
    let mut pattern = TestPattern::new(layout, 30);
    Looping::start(move || window.paint(&pattern.capture().expect("pattern").frame))
}

/// Alice shares the window through the embedded SFU; Bob decodes the share at its size and
/// reads the counters the painter drew advancing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_window_reaches_another_client_through_the_sfu() {
    const KEY: &str = "APIscreen";
    const SECRET: &str = "screen-secret-screen-secret-screen-secret";
    let xvfb = Xvfb::start();
    let window = TestWindow::open(&xvfb);
    let id = window.id();
    let _painter = start_painting(window);
    let sfu = common::start_sfu(KEY, SECRET).await;
    let url = format!("http://{}", sfu.local_addr());
    let token = |identity| join_token(KEY, SECRET, "share", identity);
    let (alice, _alice_events) = join_room(&url, &token("alice")).await;
    let (bob, mut bob_events) = join_room(&url, &token("bob")).await;
    let share = xvfb
        .screens()
        .open(&id, ShareOptions::default())
        .expect("open");
    let (sender, mut receiver) = share_and_watch(&alice, "alice", share, &mut bob_events).await;
    let mut counters: Vec<FrameStamp> = Vec::new();
    let waited = tokio::time::timeout(DEADLINE, async {
        while counters.len() < 10 {
            receiver.frames.changed().await.expect("decoder stopped");
            let Some(decoded) = receiver.frames.borrow_and_update().clone() else {
                continue;
            };
            assert_eq!((decoded.frame.width(), decoded.frame.height()), (640, 360));
            if let Some(stamp) = decoded.stamp {
                counters.push(stamp);
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "only {} stamped frames arrived",
        counters.len()
    );
    assert!(
        counters
            .windows(2)
            .all(|pair| pair[1].counter >= pair[0].counter),
        "{counters:?}"
    );
    assert!(counters.last().map(|s| s.counter) > counters.first().map(|s| s.counter));
    sender.stop().expect("sender");
    receiver.task.stop().expect("receiver");
    alice.leave().await.expect("leave");
    bob.leave().await.expect("leave");
}
