//! Where tests keep what a person may want to look at afterwards (screenshots, logs).

use std::path::PathBuf;

/// `target/artifacts/` in the checkout (even when `CARGO_TARGET_DIR` points elsewhere), or
/// `CONFAB_ARTIFACTS_DIR` when set. Created on first use.
pub fn dir() -> std::io::Result<PathBuf> {
    let dir = std::env::var_os("CONFAB_ARTIFACTS_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("artifacts")
        },
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `bytes` to `name` in the artefact directory, atomically (temp file, then rename), and
/// returns the final path.
pub fn save(name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = dir()?;
    let final_path = dir.join(name);
    let temp_path = dir.join(format!(".{name}.partial"));
    std::fs::write(&temp_path, bytes)?;
    std::fs::rename(&temp_path, &final_path)?;
    Ok(final_path)
}
