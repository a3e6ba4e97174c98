//! Packaging: `cargo xtask bundle` produces a .deb and an .rpm that install the app, its desktop
//! entry and its icons; and the Info.plist a macOS bundle merges (no Mac here to bundle on)
//! parses and says why the app asks for the camera, the microphone and the local network.

use std::path::Path;

use crate::app::{self, DESKTOP_BINARY};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let bundles = app::bundle_over_built_ui(workspace)?;
    let mut counts = Counts::default();
    for bundle in &bundles {
        let listing = list_contents(workspace, bundle);
        for wanted in [
            format!("usr/bin/{DESKTOP_BINARY}"),
            "usr/share/applications/".to_owned(),
            "usr/share/icons/hicolor/128x128/apps/".to_owned(),
        ] {
            let ok = listing
                .as_deref()
                .is_some_and(|text| text.contains(&wanted));
            eprintln!(
                "bundle: {} contains {wanted}: {}",
                bundle.display(),
                if ok { "yes" } else { "NO" }
            );
            counts.add(Counts::check(ok));
        }
        if bundle.extension().is_some_and(|e| e == "deb") {
            let ok = desktop_entry(workspace, bundle)
                .is_some_and(|entry| entry.contains("x-scheme-handler/confab"));
            eprintln!(
                "bundle: {} opens confab:// links: {}",
                bundle.display(),
                if ok { "yes" } else { "NO" }
            );
            counts.add(Counts::check(ok));
        }
    }
    let plist = workspace.root.join("Info.plist");
    let keys = process::output(
        process::command(workspace, "python3")
            .args([
                "-c",
                "import plistlib, sys; print(' '.join(plistlib.load(open(sys.argv[1], 'rb'))))",
            ])
            .arg(&plist),
    );
    for wanted in MACOS_USAGE_KEYS {
        let ok = keys
            .as_deref()
            .is_some_and(|keys| keys.split_whitespace().any(|key| key == wanted));
        eprintln!(
            "bundle: {} has {wanted}: {}",
            plist.display(),
            if ok { "yes" } else { "NO" }
        );
        counts.add(Counts::check(ok));
    }
    Ok(counts)
}

/// What macOS asks an app to explain before it may use the camera, the microphone, and the
/// local network (mDNS for finding meetings by code).
const MACOS_USAGE_KEYS: [&str; 4] = [
    "NSCameraUsageDescription",
    "NSMicrophoneUsageDescription",
    "NSLocalNetworkUsageDescription",
    "NSBonjourServices",
];

/// The desktop entry a .deb installs (unpacked into a scratch folder under the target dir).
fn desktop_entry(workspace: &Workspace, deb: &Path) -> Option<String> {
    let scratch = workspace.target_dir.join("bundle-check");
    let _ = std::fs::remove_dir_all(&scratch);
    let unpacked = process::status(
        process::command(workspace, "dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&scratch),
    )
    .ok()?
    .success();
    let applications = scratch.join("usr/share/applications");
    let entry = unpacked
        .then(|| std::fs::read_dir(&applications).ok())
        .flatten()?
        .filter_map(Result::ok)
        .find(|file| file.path().extension().is_some_and(|e| e == "desktop"))
        .and_then(|file| std::fs::read_to_string(file.path()).ok());
    let _ = std::fs::remove_dir_all(&scratch);
    entry
}

fn list_contents(workspace: &Workspace, bundle: &Path) -> Option<String> {
    let is_deb = bundle.extension().is_some_and(|e| e == "deb");
    let mut command = if is_deb {
        let mut command = process::command(workspace, "dpkg-deb");
        command.arg("--contents");
        command
    } else {
        let mut command = process::command(workspace, "rpm");
        command.args(["-qpl", "--nosignature"]);
        command
    };
    process::output(command.arg(bundle))
}
