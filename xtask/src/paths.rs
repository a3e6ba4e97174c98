//! Where things are: the checkout, the cargo target dir, the native-dependency cache.

use std::path::{Path, PathBuf};

use crate::error::XtaskError;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub cache_dir: PathBuf,
}

impl Workspace {
    pub fn locate() -> Result<Self, XtaskError> {
        // `cargo run` passes the manifest dir of the checkout it runs in. Prefer it to the one
        // compiled in: checkouts that share a CARGO_TARGET_DIR share one xtask binary, and
        // cargo does not relink it when another checkout's identical sources built it last.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .ok_or_else(|| XtaskError::Unexpected("xtask has no parent directory".into()))?
            .to_path_buf();
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        let cache_dir = std::env::var_os("CONFAB_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("confab")))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/confab")))
            .ok_or_else(|| {
                XtaskError::Unexpected("set HOME or CONFAB_CACHE_DIR for the build cache".into())
            })?;
        Ok(Self {
            root,
            target_dir,
            cache_dir,
        })
    }

    pub fn release_dir(&self) -> PathBuf {
        self.target_dir.join("release")
    }

    pub fn ui_dir(&self) -> PathBuf {
        self.root.join("ui")
    }

    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("tools")
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.root.join("target").join("artifacts")
    }

    pub fn python_venv(&self) -> PathBuf {
        self.tools_dir().join("venv")
    }

    pub fn python_requirements(&self) -> PathBuf {
        self.conformance_dir()
            .join("python")
            .join("requirements.txt")
    }

    pub fn conformance_dir(&self) -> PathBuf {
        self.root.join("tests").join("conformance")
    }

    pub fn meson_venv(&self) -> PathBuf {
        self.cache_dir.join("meson-venv")
    }

    /// Build caches kept outside the checkout (`CONFAB_CACHE_DIR`, default `~/.cache/confab`).
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone()
    }

    pub fn abseil_prefix(&self) -> PathBuf {
        self.cache_dir
            .join(format!("abseil-{}", crate::setup::native::ABSEIL_VERSION))
    }
}
