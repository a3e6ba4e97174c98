//! The PulseAudio authentication cookie. A PulseAudio server rejects a client whose cookie is
//! not 256 bytes long — even a server configured with `auth-anonymous`, which then ignores the
//! cookie's value. libpulse creates `~/.config/pulse/cookie` on first use; the pure-Rust client
//! behind cpal only reads it, so on a fresh account (a new login, a container, CI) the PulseAudio
//! host looks unreachable and cpal silently falls back to raw ALSA. We create the cookie the way
//! libpulse does before the PulseAudio host is tried.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// PulseAudio's `PA_NATIVE_COOKIE_LENGTH`.
const COOKIE_LENGTH: usize = 256;

/// The cookie files libpulse reads, relative to `$HOME`, in the order it reads them.
const COOKIE_PATHS: [&str; 2] = [".config/pulse/cookie", ".pulse-cookie"];

/// Makes sure a PulseAudio client started with this environment finds a cookie: nothing to do
/// when `PULSE_COOKIE` names one or one already exists under `$HOME`; otherwise a new random
/// cookie is written to `~/.config/pulse/cookie`. Failing to write it is only logged — the
/// connection then fails as it would have and cpal uses ALSA.
pub fn ensure_for_this_user() {
    if std::env::var_os("PULSE_COOKIE").is_some() {
        return;
    }
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return;
    };
    match ensure_under(&home) {
        Ok(Some(created)) => {
            tracing::info!(path = %created.display(), "created a PulseAudio cookie");
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "could not create a PulseAudio cookie"),
    }
}

/// Creates `<home>/.config/pulse/cookie` unless a cookie file exists; returns the path it
/// created. The file appears complete under its final name or not at all (written beside it,
/// then renamed) and is readable by its owner only.
fn ensure_under(home: &Path) -> std::io::Result<Option<PathBuf>> {
    if COOKIE_PATHS.iter().any(|path| home.join(path).is_file()) {
        return Ok(None);
    }
    let cookie = home.join(COOKIE_PATHS[0]);
    let dir = cookie.parent().unwrap_or(home);
    std::fs::create_dir_all(dir)?;
    let mut secret = [0u8; COOKIE_LENGTH];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    let partial = dir.join(format!(".cookie.{}.partial", std::process::id()));
    let written = write_private(&partial, &secret).and_then(|()| {
        // Another process may have created one meanwhile: keep theirs, it is already in use.
        if cookie.is_file() {
            std::fs::remove_file(&partial)
        } else {
            std::fs::rename(&partial, &cookie)
        }
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    Ok(Some(cookie))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fresh_home(name: &str) -> PathBuf {
        let home = std::env::temp_dir().join(format!("confab-pulse-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).expect("temp home");
        home
    }

    #[test]
    fn a_fresh_home_gets_a_private_cookie_of_the_length_pulseaudio_requires() {
        let home = fresh_home("fresh");
        let created = ensure_under(&home).expect("created").expect("a new cookie");
        assert_eq!(created, home.join(".config/pulse/cookie"));
        let bytes = std::fs::read(&created).expect("readable");
        assert_eq!(bytes.len(), COOKIE_LENGTH);
        assert!(
            bytes.iter().any(|&b| b != 0),
            "the cookie is random, not zeros"
        );
        let mode = std::fs::metadata(&created)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(created.parent().expect("dir"))
            .expect("list")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("cookie")]);
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn an_existing_cookie_is_left_alone() {
        for existing in COOKIE_PATHS {
            let home = fresh_home(&existing.replace('/', "_"));
            let path = home.join(existing);
            std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
            std::fs::write(&path, b"theirs").expect("write");
            assert_eq!(ensure_under(&home).expect("checked"), None);
            assert_eq!(std::fs::read(&path).expect("read"), b"theirs");
            assert!(!home.join(COOKIE_PATHS[0]).exists() || existing == COOKIE_PATHS[0]);
            let _ = std::fs::remove_dir_all(&home);
        }
    }
}
