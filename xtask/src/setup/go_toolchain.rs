//! Go, for building `livekit-server`: the machine's `go` when it is new enough, else a pinned
//! toolchain from the Go module proxy (`golang.org/toolchain`, the same archives `GOTOOLCHAIN`
//! downloads) unpacked into the cache directory. Debian's own `golang-go` is too old.

use std::path::{Path, PathBuf};

use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;

/// livekit-server 1.9's `go.mod` asks for Go 1.24.
const MINIMUM: (u32, u32) = (1, 24);
const PINNED: &str = "go1.25.14";
const PROXY: &str = "https://proxy.golang.org/golang.org/toolchain/@v";

/// The `go` to build with.
pub fn ensure(workspace: &Workspace) -> Result<PathBuf, XtaskError> {
    let installed = process::output(process::command(workspace, "go").arg("version"))
        .and_then(|text| version(&text));
    if installed.is_some_and(|v| v >= MINIMUM) {
        return Ok(PathBuf::from("go"));
    }
    let root = workspace.cache_dir().join("go").join(PINNED);
    let go = root.join("bin").join("go");
    if go.is_file() {
        return Ok(go);
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => {
            return Err(XtaskError::MissingPrerequisites(format!(
                "Go {}.{} or newer is needed and no toolchain is pinned for {other}",
                MINIMUM.0, MINIMUM.1
            )));
        }
    };
    eprintln!("go: fetching {PINNED} from the Go module proxy");
    let name = format!("v0.0.1-{PINNED}.linux-{arch}");
    let parent = root
        .parent()
        .ok_or_else(|| XtaskError::Unexpected("toolchain dir has no parent".into()))?;
    std::fs::create_dir_all(parent).map_err(XtaskError::io(parent))?;
    let archive = parent.join(format!("{name}.zip"));
    process::run(
        process::command(workspace, "curl")
            .args(["-fsSL", "--retry", "3", "-o"])
            .arg(&archive)
            .arg(format!("{PROXY}/{name}.zip")),
    )?;
    // Unpacked beside the final name and renamed when complete.
    let staging = parent.join(format!("{PINNED}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    process::run(
        process::command(workspace, "python3")
            .args([
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
            ])
            .arg(&archive)
            .arg(&staging),
    )?;
    let unpacked = staging.join("golang.org").join(format!("toolchain@{name}"));
    // zipfile drops permission bits: the tools must be executable again.
    make_executable(&unpacked.join("bin"))?;
    make_executable(&unpacked.join("pkg").join("tool"))?;
    std::fs::rename(&unpacked, &root).map_err(XtaskError::io(&root))?;
    let _ = std::fs::remove_dir_all(&staging);
    let _ = std::fs::remove_file(&archive);
    Ok(go)
}

/// `(major, minor)` from `go version` output such as `go version go1.26.8 linux/amd64`.
fn version(text: &str) -> Option<(u32, u32)> {
    let release = text.split_whitespace().nth(2)?.strip_prefix("go")?;
    let mut parts = release.split(['.', 'r', 'b']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Every file below `dir`, recursively, gets mode 0755.
fn make_executable(dir: &Path) -> Result<(), XtaskError> {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).map_err(XtaskError::io(dir))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            make_executable(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(XtaskError::io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_major_and_minor_from_go_version() {
        assert_eq!(version("go version go1.26.8 linux/amd64"), Some((1, 26)));
        assert_eq!(version("go version go1.24rc1 linux/amd64"), Some((1, 24)));
        assert_eq!(version("go version go1.19.8 linux/amd64"), Some((1, 19)));
        assert_eq!(version("command not found"), None);
    }
}
