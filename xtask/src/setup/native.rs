//! Native build dependencies that Debian 12 ships too old: meson >= 1.1 and abseil >= 20240722,
//! both needed by `webrtc-audio-processing`'s bundled build. They are built once into the cache
//! directory (outside the checkout) and put on `PATH` / `PKG_CONFIG_PATH` by `process::command`.

use std::path::{Path, PathBuf};

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

pub const ABSEIL_VERSION: &str = "20240722";
const MESON_VERSION: &str = "1.9.2";
/// The Debian release whose source package carries the abseil we need.
const ABSEIL_SUITE: &str = "trixie";

pub fn ensure(workspace: &Workspace) -> Result<(), XtaskError> {
    std::fs::create_dir_all(&workspace.cache_dir).map_err(XtaskError::io(&workspace.cache_dir))?;
    ensure_meson(workspace)?;
    ensure_abseil(workspace)
}

fn ensure_meson(workspace: &Workspace) -> Result<(), XtaskError> {
    let venv = workspace.meson_venv();
    let meson = venv.join("bin").join("meson");
    let version = process::output(process::command(workspace, &meson).arg("--version"));
    if version.as_deref().map(str::trim) == Some(MESON_VERSION) {
        eprintln!("native deps: meson {MESON_VERSION} present");
        return Ok(());
    }
    super::venv::pip_install(workspace, &venv, &[format!("meson=={MESON_VERSION}")])
}

fn ensure_abseil(workspace: &Workspace) -> Result<(), XtaskError> {
    let prefix = workspace.abseil_prefix();
    if prefix.join("lib/pkgconfig/absl_base.pc").is_file() {
        eprintln!("native deps: abseil {ABSEIL_VERSION} present");
        return Ok(());
    }
    let mirror = debian_mirror()?;
    let work = workspace.cache_dir.join("abseil-work");
    remove_dir_if_present(&work)?;
    let source_dir = work.join("download");
    for dir in [
        "lists/partial",
        "cache/archives/partial",
        "parts",
        "download",
    ] {
        let path = work.join(dir);
        std::fs::create_dir_all(&path).map_err(XtaskError::io(&path))?;
    }
    let sources_list = work.join("sources.list");
    std::fs::write(
        &sources_list,
        format!("deb-src {mirror} {ABSEIL_SUITE} main\n"),
    )
    .map_err(XtaskError::io(&sources_list))?;

    // A private apt state: the system's sources and lists stay untouched.
    let apt = |args: &[&str], cwd: &Path| {
        let mut command = process::command(workspace, "apt-get");
        command
            .current_dir(cwd)
            .arg("-q")
            .arg(format!("-oDir::Etc::SourceList={}", sources_list.display()))
            .arg(format!(
                "-oDir::Etc::SourceParts={}",
                work.join("parts").display()
            ))
            .arg(format!(
                "-oDir::State::Lists={}",
                work.join("lists").display()
            ))
            .arg(format!("-oDir::Cache={}", work.join("cache").display()))
            .args(args);
        command
    };
    process::run(&mut apt(&["update"], &work))?;
    process::run(&mut apt(
        &["source", "--download-only", "abseil"],
        &source_dir,
    ))?;

    let tarball = find_file(&source_dir, |name| {
        name.starts_with(&format!("abseil_{ABSEIL_VERSION}")) && name.ends_with(".orig.tar.gz")
    })?;
    process::run(
        process::command(workspace, "tar")
            .current_dir(&work)
            .arg("xzf")
            .arg(&tarball),
    )?;
    // The upstream tarball unpacks to `abseil-<version>` (older ones: `abseil-cpp-<version>`).
    let source = find_dir(&work, |name| {
        name.starts_with(&format!("abseil-{ABSEIL_VERSION}")) || name.starts_with("abseil-cpp")
    })?;
    let build = work.join("build");
    let staging = workspace
        .cache_dir
        .join(format!("abseil-{ABSEIL_VERSION}.partial"));
    remove_dir_if_present(&staging)?;
    process::run(
        process::command(workspace, "cmake")
            .arg("-S")
            .arg(&source)
            .arg("-B")
            .arg(&build)
            .args(["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"])
            .arg(format!("-DCMAKE_INSTALL_PREFIX={}", staging.display()))
            .args([
                "-DCMAKE_INSTALL_LIBDIR=lib",
                "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
                "-DABSL_PROPAGATE_CXX_STD=ON",
                "-DCMAKE_CXX_STANDARD=17",
                "-DABSL_BUILD_TESTING=OFF",
            ]),
    )?;
    process::run(
        process::command(workspace, "cmake")
            .arg("--build")
            .arg(&build),
    )?;
    process::run(
        process::command(workspace, "cmake")
            .arg("--install")
            .arg(&build),
    )?;
    // pkg-config files name the staging prefix; point them at the final one before the rename
    // makes the install visible (so a half-built prefix never exists under the final name).
    rewrite_prefix(&staging.join("lib/pkgconfig"), &staging, &prefix)?;
    std::fs::rename(&staging, &prefix).map_err(XtaskError::io(&prefix))?;
    remove_dir_if_present(&work)?;
    eprintln!(
        "native deps: abseil {ABSEIL_VERSION} installed in {}",
        prefix.display()
    );
    Ok(())
}

/// The Debian archive this machine already uses (so no address is hard-coded here), or
/// `CONFAB_DEBIAN_MIRROR`.
fn debian_mirror() -> Result<String, XtaskError> {
    if let Ok(mirror) = std::env::var("CONFAB_DEBIAN_MIRROR") {
        return Ok(mirror);
    }
    let mut texts = Vec::new();
    for path in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ] {
        if let Ok(text) = std::fs::read_to_string(path) {
            texts.push(text);
        }
    }
    texts
        .iter()
        .find_map(|text| find_debian_archive(text))
        .ok_or_else(|| {
            XtaskError::MissingPrerequisites(format!(
                "no Debian archive found in /etc/apt to fetch abseil {ABSEIL_VERSION} source from; \
                 set CONFAB_DEBIAN_MIRROR to a Debian archive URL (one serving `{ABSEIL_SUITE}`)"
            ))
        })
}

/// The first main-archive URI (ending in `/debian`) in deb822 or one-line apt sources.
fn find_debian_archive(sources: &str) -> Option<String> {
    sources.lines().find_map(|line| {
        let line = line.trim();
        let candidates: Vec<&str> = if let Some(uris) = line.strip_prefix("URIs:") {
            uris.split_whitespace().collect()
        } else if line.starts_with("deb ") || line.starts_with("deb-src ") {
            line.split_whitespace()
                .skip(1)
                .filter(|part| !part.starts_with('['))
                .take(1)
                .collect()
        } else {
            Vec::new()
        };
        candidates
            .into_iter()
            .find(|uri| uri.trim_end_matches('/').ends_with("/debian"))
            .map(str::to_owned)
    })
}

fn rewrite_prefix(pkgconfig: &Path, from: &Path, to: &Path) -> Result<(), XtaskError> {
    let (from, to) = (from.display().to_string(), to.display().to_string());
    let entries = std::fs::read_dir(pkgconfig).map_err(XtaskError::io(pkgconfig))?;
    for entry in entries {
        let path = entry.map_err(XtaskError::io(pkgconfig))?.path();
        let text = std::fs::read_to_string(&path).map_err(XtaskError::io(&path))?;
        std::fs::write(&path, text.replace(&from, &to)).map_err(XtaskError::io(&path))?;
    }
    Ok(())
}

fn remove_dir_if_present(dir: &Path) -> Result<(), XtaskError> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(XtaskError::Io {
            path: dir.to_path_buf(),
            source: error,
        }),
        _ => Ok(()),
    }
}

fn find_entry(
    dir: &Path,
    want_dir: bool,
    matches: impl Fn(&str) -> bool,
) -> Result<PathBuf, XtaskError> {
    let entries = std::fs::read_dir(dir).map_err(XtaskError::io(dir))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.is_dir() == want_dir
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(&matches)
        })
        .ok_or_else(|| {
            XtaskError::Unexpected(format!("expected abseil sources in {}", dir.display()))
        })
}

fn find_file(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<PathBuf, XtaskError> {
    find_entry(dir, false, matches)
}

fn find_dir(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<PathBuf, XtaskError> {
    find_entry(dir, true, matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_archive_in_deb822_sources() {
        let sources = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n\
                       Types: deb\nURIs: http://mirror.example/debian-security\n";
        assert_eq!(
            find_debian_archive(sources).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn finds_the_archive_in_one_line_sources_skipping_options() {
        let sources = "# comment\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n";
        assert_eq!(
            find_debian_archive(sources).as_deref(),
            Some("http://mirror.example/debian/")
        );
        assert_eq!(
            find_debian_archive("deb http://x.example/ubuntu noble main"),
            None
        );
    }
}
