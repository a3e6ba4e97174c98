//! System packages, by their Debian/Ubuntu names.

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::setup::{Purpose, is_root};

/// Needed to build and run the app (Tauri/WebKitGTK, audio/video dev libraries, native build
/// tools for bundled C/C++ code).
const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "cmake",
    "ninja-build",
    "nasm",
    "curl",
    "file",
    "dpkg-dev",
    "libssl-dev",
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libxdo-dev",
    "libasound2-dev",
    "libv4l-dev",
    "libvpx-dev",
    "libclang-dev",
    "libpipewire-0.3-dev",
];

/// Needed only by the test tiers (virtual display, WebDriver, headless Chromium, virtual audio,
/// speech clips for the echo and loss tests, package inspection, network namespaces for the
/// test network and a firewall in one of them, a Wayland desktop for screen sharing, Redis for
/// a LiveKit cluster, a keyring, an emoji font).
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "chromium",
    "chromium-driver",
    "dbus",
    "dbus-x11",
    "pulseaudio",
    // pactl, pacat and parec: the device tests drive their private server with them.
    "pulseaudio-utils",
    "espeak-ng",
    "rpm",
    "iproute2",
    "nftables",
    // Wayland screen sharing: a headless compositor, the portal with its wlroots backend,
    // and PipeWire with its session manager.
    "sway",
    "swaybg",
    "xdg-desktop-portal",
    "xdg-desktop-portal-wlr",
    "pipewire",
    "wireplumber",
    // The two-node livekit-server cluster of the meeting tests shares one Redis.
    "redis-server",
    // A real Secret Service (the OS keyring) for the hosting server's secret, on a test bus.
    "gnome-keyring",
    // The app's emoji (microphone state, reactions) in the e2e screenshots, not empty boxes.
    "fonts-noto-color-emoji",
];

fn wanted(workspace: &Workspace, purpose: Purpose) -> Vec<&'static str> {
    let mut packages: Vec<&str> = BUILD_PACKAGES.to_vec();
    if purpose == Purpose::Test {
        packages.extend_from_slice(TEST_PACKAGES);
    }
    // Only when the machine has no Node.js / venv at all: installing Debian's over another
    // distribution of them (nodesource, pyenv) would conflict or shadow it.
    if purpose == Purpose::Test && !process::exists(workspace, "npm") {
        packages.extend_from_slice(&["nodejs", "npm"]);
    }
    let has_venv =
        process::output(process::command(workspace, "python3").args(["-m", "venv", "--help"]))
            .is_some();
    if !has_venv {
        packages.extend_from_slice(&["python3", "python3-venv"]);
    }
    packages
}

/// Packages from `wanted` that dpkg does not report as installed.
fn missing(workspace: &Workspace, wanted: &[&'static str]) -> Vec<&'static str> {
    // dpkg-query exits non-zero when any package is unknown, but still reports the known ones.
    let report = process::command(workspace, "dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Status}\n"])
        .args(wanted)
        .stderr(std::process::Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    let installed: Vec<&str> = report
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, state)| *state == "installed")
        // Multi-arch packages report as `name:arch`.
        .map(|(name, _)| name.split(':').next().unwrap_or(name))
        .collect();
    wanted
        .iter()
        .copied()
        .filter(|package| !installed.contains(package))
        .collect()
}

pub fn ensure(workspace: &Workspace, purpose: Purpose) -> Result<(), XtaskError> {
    if std::env::var_os("CONFAB_SKIP_SYSTEM_PACKAGES").is_some() {
        eprintln!("system packages: skipped (CONFAB_SKIP_SYSTEM_PACKAGES is set)");
        return Ok(());
    }
    ensure_packages(workspace, &wanted(workspace, purpose))
}

/// Installs those of `wanted` (Debian package names) that are missing; root only.
pub fn ensure_packages(workspace: &Workspace, wanted: &[&'static str]) -> Result<(), XtaskError> {
    if !process::exists(workspace, "dpkg-query") || !process::exists(workspace, "apt-get") {
        return Err(XtaskError::MissingPrerequisites(format!(
            "this is not a Debian/Ubuntu system, so xtask cannot install system packages.\n\
             Install the equivalents of these Debian packages with your package manager:\n  {}\n\
             then re-run with CONFAB_SKIP_SYSTEM_PACKAGES=1.",
            wanted.join(" ")
        )));
    }
    let missing = missing(workspace, wanted);
    if missing.is_empty() {
        eprintln!("system packages: all {} present", wanted.len());
        return Ok(());
    }
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(XtaskError::MissingPrerequisites(format!(
            "these system packages are missing and installing them needs root:\n  {}\n\
             Run:\n  sudo apt-get update && sudo {install}\nthen run this command again.",
            missing.join(" ")
        )));
    }
    eprintln!("system packages: installing {}", missing.join(" "));
    process::run(process::command(workspace, "apt-get").args(["update", "-q"]))?;
    process::run(
        process::command(workspace, "apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )
}
