//! The devices the user chose last time, kept in the OS config directory
//! (`$XDG_CONFIG_HOME/confab/devices.json`, `~/Library/Application Support/confab`,
//! `%APPDATA%\confab`). A missing or unreadable file means "system defaults".

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::DeviceKind;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DevicePreferences {
    pub microphone: Option<String>,
    pub speaker: Option<String>,
    pub camera: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreferencesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl DevicePreferences {
    pub fn chosen(&self, kind: DeviceKind) -> Option<&str> {
        match kind {
            DeviceKind::Microphone => self.microphone.as_deref(),
            DeviceKind::Speaker => self.speaker.as_deref(),
            DeviceKind::Camera => self.camera.as_deref(),
        }
    }

    pub fn choose(&mut self, kind: DeviceKind, id: Option<String>) {
        match kind {
            DeviceKind::Microphone => self.microphone = id,
            DeviceKind::Speaker => self.speaker = id,
            DeviceKind::Camera => self.camera = id,
        }
    }

    /// The saved choice, or defaults when there is none. A corrupt file is reported (and the
    /// caller decides; the app logs it and uses defaults).
    pub fn load(path: &Path) -> Result<Self, PreferencesError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| PreferencesError::Format {
                    path: path.to_owned(),
                    source,
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(PreferencesError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Written beside the file and renamed over it, so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), PreferencesError> {
        let io = |source| PreferencesError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|source| PreferencesError::Format {
            path: path.to_owned(),
            source,
        })?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, json).map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)
    }

    /// Where the app keeps them; `None` when the OS names no config directory.
    pub fn default_path() -> Option<PathBuf> {
        config_dir().map(|dir| dir.join("confab").join("devices.json"))
    }
}

fn config_dir() -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(target_os = "windows") {
        from_env("APPDATA")
    } else if cfg!(target_os = "macos") {
        from_env("HOME").map(|home| home.join("Library").join("Application Support"))
    } else {
        from_env("XDG_CONFIG_HOME").or_else(|| from_env("HOME").map(|home| home.join(".config")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("confab-prefs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("devices.json")
    }

    #[test]
    fn a_choice_survives_a_restart() {
        let path = scratch("roundtrip");
        assert_eq!(
            DevicePreferences::load(&path).expect("none yet"),
            DevicePreferences::default()
        );
        let mut preferences = DevicePreferences::default();
        preferences.choose(
            DeviceKind::Microphone,
            Some("alsa_input.usb-Blue_Yeti".into()),
        );
        preferences.save(&path).expect("save");
        let loaded = DevicePreferences::load(&path).expect("load");
        assert_eq!(
            loaded.chosen(DeviceKind::Microphone),
            Some("alsa_input.usb-Blue_Yeti")
        );
        assert_eq!(loaded.chosen(DeviceKind::Speaker), None);
        assert!(!path.with_extension("json.partial").exists());
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_unknown_fields_are_ignored() {
        let path = scratch("corrupt");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, b"{not json").expect("write");
        assert!(matches!(
            DevicePreferences::load(&path),
            Err(PreferencesError::Format { .. })
        ));
        std::fs::write(&path, br#"{"speaker":"s","from_the_future":1}"#).expect("write");
        assert_eq!(
            DevicePreferences::load(&path)
                .expect("load")
                .chosen(DeviceKind::Speaker),
            Some("s")
        );
    }
}
