//! A private Wayland desktop for one test: its own D-Bus session bus, PipeWire with
//! WirePlumber, a headless sway whose whole screen is one solid colour the test can change,
//! and xdg-desktop-portal with the wlroots backend set to share that screen without asking
//! (`chooser_type=none`: the picker a person would answer).
//!
//! sway refuses to run as root, so it runs in a user namespace of its own (`unshare --user`),
//! where it is nobody, yet its sockets are still reachable by the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::proxy;

pub const SIZE: (u32, u32) = (1280, 720);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PORTAL: &str = "/usr/libexec/xdg-desktop-portal";
const PORTAL_WLR: &str = "/usr/libexec/xdg-desktop-portal-wlr";
const WLR_BUS_NAME: &str = "org.freedesktop.impl.portal.desktop.wlr";
const PORTAL_BUS_NAME: &str = "org.freedesktop.portal.Desktop";

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl Colour {
    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

pub struct Desktop {
    root: PathBuf,
    /// The D-Bus address the portal is on.
    pub bus: String,
    children: Vec<(&'static str, Child)>,
}

impl Desktop {
    /// Starts everything and returns once the portal answers on the bus.
    pub fn start(first: Colour) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "confab-wayland-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let runtime = root.join("runtime");
        for dir in [
            &runtime,
            &root.join("home"),
            &root.join("config/xdg-desktop-portal-wlr"),
        ] {
            std::fs::create_dir_all(dir).expect("desktop dirs");
        }
        set_mode(&runtime, 0o700);
        let bus = format!("unix:path={}", runtime.join("bus").display());
        let mut desktop = Self {
            root,
            bus,
            children: Vec::new(),
        };

        let mut dbus = desktop.command("dbus-daemon");
        dbus.args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .arg(format!("--address={}", desktop.bus))
            .stdout(Stdio::piped());
        let mut daemon = spawn("dbus-daemon", &mut dbus);
        let stdout = daemon.stdout.take().expect("piped");
        desktop.children.push(("dbus-daemon", daemon));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("dbus-daemon's address");
        assert!(
            line.starts_with("unix:"),
            "dbus-daemon did not start: {line:?}"
        );

        let pipewire = spawn("pipewire", &mut desktop.command("pipewire"));
        desktop.children.push(("pipewire", pipewire));
        wait_for(&desktop, "PipeWire's socket", || {
            runtime.join("pipewire-0").exists().then_some(())
        });
        let wireplumber = spawn("wireplumber", &mut desktop.command("wireplumber"));
        desktop.children.push(("wireplumber", wireplumber));

        let sway_config = desktop.root.join("sway.conf");
        std::fs::write(
            &sway_config,
            format!(
                "xwayland disable\noutput HEADLESS-1 mode {}x{} bg {} solid_color\n",
                SIZE.0,
                SIZE.1,
                first.hex()
            ),
        )
        .expect("sway config");
        let mut sway = desktop.command("unshare");
        sway.args(["--user", "--", "sway", "-c"])
            .arg(&sway_config)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env_remove("WAYLAND_DISPLAY");
        let sway = spawn("sway", &mut sway);
        desktop.children.push(("sway", sway));
        let compositor = wait_for(&desktop, "sway's Wayland socket", || {
            socket_in(&runtime, |name| {
                name.starts_with("wayland-") && !name.ends_with(".lock") && name != "wayland-proxy"
            })
        });
        wait_for(&desktop, "sway's IPC socket", || {
            socket_in(&runtime, |name| name.starts_with("sway-ipc."))
        });
        proxy::start(runtime.join("wayland-proxy"), compositor).expect("wayland proxy");

        std::fs::write(
            desktop.root.join("config/xdg-desktop-portal-wlr/config"),
            "[screencast]\nchooser_type=none\noutput_name=HEADLESS-1\nmax_fps=30\n",
        )
        .expect("portal config");
        let wlr = spawn("xdg-desktop-portal-wlr", &mut desktop.command(PORTAL_WLR));
        desktop.children.push(("xdg-desktop-portal-wlr", wlr));
        wait_for(&desktop, WLR_BUS_NAME, || {
            desktop.bus_has(WLR_BUS_NAME).then_some(())
        });
        let portal = spawn("xdg-desktop-portal", &mut desktop.command(PORTAL));
        desktop.children.push(("xdg-desktop-portal", portal));
        wait_for(&desktop, PORTAL_BUS_NAME, || {
            desktop.bus_has(PORTAL_BUS_NAME).then_some(())
        });
        desktop
    }

    /// Paints the whole screen `colour`.
    pub fn paint(&self, colour: Colour) {
        self.brush().paint(colour);
    }

    /// What paints the screen, for another thread.
    pub fn brush(&self) -> Brush {
        let runtime = self.root.join("runtime");
        Brush {
            ipc: socket_in(&runtime, |name| name.starts_with("sway-ipc.")).expect("sway IPC"),
        }
    }

    /// Ends the portal's backend, as when the desktop session stops sharing.
    pub fn stop_portal_backend(&mut self) {
        for (name, child) in &mut self.children {
            if *name == "xdg-desktop-portal-wlr" {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_RUNTIME_DIR", self.root.join("runtime"))
            .env("XDG_CURRENT_DESKTOP", "sway")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("WAYLAND_DISPLAY", "wayland-proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file(&self.root, program)));
        command
    }

    fn bus_has(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .arg(format!("--bus={}", self.bus))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
    }

    /// The logs the desktop's processes wrote, for a failure message.
    pub fn logs(&self) -> String {
        let mut logs = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.extension().is_some_and(|ext| ext == "log") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(30).collect();
                    logs.push_str(&format!("--- {}\n", path.display()));
                    for line in tail.into_iter().rev() {
                        logs.push_str(line);
                        logs.push('\n');
                    }
                }
            }
        }
        logs
    }
}

/// Paints the desktop's screen through sway's IPC socket.
#[derive(Debug, Clone)]
pub struct Brush {
    ipc: PathBuf,
}

impl Brush {
    pub fn paint(&self, colour: Colour) {
        let status = Command::new("swaymsg")
            .arg("-s")
            .arg(&self.ipc)
            .args(["output", "HEADLESS-1", "bg", &colour.hex(), "solid_color"])
            .stdout(Stdio::null())
            .status()
            .expect("swaymsg");
        assert!(status.success(), "swaymsg could not paint the screen");
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A D-Bus bus with nothing on it and no services to start on demand.
pub struct BareBus {
    child: Child,
    root: PathBuf,
    pub address: String,
}

impl BareBus {
    pub fn start() -> Self {
        let root = std::env::temp_dir().join(format!("confab-bare-bus-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("bus dir");
        let config = root.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig><type>session</type><listen>unix:path={}</listen>\
                 <auth>EXTERNAL</auth><policy context=\"default\">\
                 <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
                 <allow own=\"*\"/></policy></busconfig>\n",
                root.join("bus").display()
            ),
        )
        .expect("bus config");
        let mut child = spawn(
            "dbus-daemon",
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--nofork", "--nopidfile", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut address = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut address)
            .expect("dbus-daemon's address");
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon did not start: {address:?}"
        );
        Self {
            child,
            root,
            address: address.trim().to_owned(),
        }
    }
}

impl Drop for BareBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn spawn(what: &str, command: &mut Command) -> Child {
    command
        .spawn()
        .unwrap_or_else(|error| panic!("{what} (cargo xtask setup installs it): {error}"))
}

fn log_file(root: &Path, program: &str) -> std::fs::File {
    let name = Path::new(program).file_name().map_or_else(
        || program.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    std::fs::File::create(root.join(format!("{name}.log"))).expect("log file")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn socket_in(dir: &Path, wanted: impl Fn(&str) -> bool) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_socket = entry.file_type().is_ok_and(|kind| kind.is_socket());
            (is_socket && wanted(&name)).then(|| entry.path())
        })
}

/// Polls a condition a desktop process makes true, until a deadline; fails at once, with
/// the logs, if one of the desktop's processes died.
fn wait_for<T>(desktop: &Desktop, what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        // A child that exited is a zombie until reaped: /proc shows it without needing &mut.
        let died = desktop
            .children
            .iter()
            .find(|(_, child)| {
                std::fs::metadata(format!("/proc/{}", child.id())).is_err()
                    || std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
                        .is_ok_and(|stat| stat.contains(") Z "))
            })
            .map(|(name, _)| *name);
        if let Some(name) = died {
            panic!(
                "{name} exited while waiting for {what}:\n{}",
                desktop.logs()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not appear:\n{}",
            desktop.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
