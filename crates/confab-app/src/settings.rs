//! What the app remembers between runs: the devices the user picked (`devices.json`, shared
//! with `confab-media`'s [`DevicePreferences`]) and the name they last used (`profile.json`),
//! both in the OS config directory. A missing or unreadable file means defaults (logged); a
//! file is written beside its final name and renamed over it, so a crash never leaves half.

use std::path::{Path, PathBuf};

use confab_ipc::devices::{
    DeviceSelection, DeviceSlot, HostingServer, MediaPreferences, Profile, RecentMeeting,
};
use confab_media::device::DeviceKind;
use confab_media::device::preferences::{DevicePreferences, PreferencesError};

const DEVICES_FILE: &str = "devices.json";
const PROFILE_FILE: &str = "profile.json";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Devices(#[from] PreferencesError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Default)]
pub struct Settings {
    /// Where the files live; None keeps everything in memory (nothing is remembered).
    dir: Option<PathBuf>,
    devices: DevicePreferences,
    profile: Profile,
}

impl Settings {
    /// The OS config directory's `confab` folder (`CONFAB_CONFIG_DIR` overrides it, so test
    /// instances keep to their own).
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("CONFAB_CONFIG_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                DevicePreferences::default_path()
                    .and_then(|path| path.parent().map(Path::to_path_buf))
            })
    }

    /// What `dir` holds, defaults for what it lacks or cannot be read.
    pub fn load(dir: Option<PathBuf>) -> Self {
        let Some(dir) = dir else {
            return Self::default();
        };
        let devices = DevicePreferences::load(&dir.join(DEVICES_FILE)).unwrap_or_else(|error| {
            tracing::warn!(%error, "device choices not read; using the system's defaults");
            DevicePreferences::default()
        });
        let profile = read_profile(&dir.join(PROFILE_FILE)).unwrap_or_else(|error| {
            tracing::warn!(%error, "profile not read");
            Profile::default()
        });
        Self {
            dir: Some(dir),
            devices,
            profile,
        }
    }

    pub fn devices(&self) -> DeviceSelection {
        DeviceSelection {
            camera: self.devices.camera.clone(),
            microphone: self.devices.microphone.clone(),
            speaker: self.devices.speaker.clone(),
        }
    }

    /// Picks a device (None: the system default) and saves the choice.
    pub fn choose(&mut self, slot: DeviceSlot, id: Option<String>) -> Result<(), SettingsError> {
        self.devices.choose(kind_of(slot), id);
        match &self.dir {
            Some(dir) => Ok(self.devices.save(&dir.join(DEVICES_FILE))?),
            None => Ok(()),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Remembers how the microphone is processed and the camera sent.
    pub fn set_media(&mut self, media: MediaPreferences) -> Result<(), SettingsError> {
        self.profile.media = media;
        self.save_profile()
    }

    /// Remembers the LiveKit server to host on (None: none); its secret is not kept here.
    pub fn set_hosting_server(
        &mut self,
        server: Option<HostingServer>,
    ) -> Result<(), SettingsError> {
        self.profile.hosting_server = server;
        self.save_profile()
    }

    /// Remembers whether global push-to-talk is on.
    pub fn set_global_push_to_talk(&mut self, on: bool) -> Result<(), SettingsError> {
        self.profile.global_push_to_talk = on;
        self.save_profile()
    }

    /// Remembers a meeting joined, to offer joining it again.
    pub fn remember_meeting(&mut self, meeting: RecentMeeting) -> Result<(), SettingsError> {
        self.profile.remember_meeting(meeting);
        self.save_profile()
    }

    /// Remembers the name used to host or join (saved only when it changed).
    pub fn remember_name(&mut self, name: &str) -> Result<(), SettingsError> {
        let name = name.trim();
        if name.is_empty() || self.profile.name.as_deref() == Some(name) {
            return Ok(());
        }
        self.profile.name = Some(name.to_owned());
        self.save_profile()
    }

    fn save_profile(&self) -> Result<(), SettingsError> {
        match &self.dir {
            Some(dir) => write_profile(&dir.join(PROFILE_FILE), &self.profile),
            None => Ok(()),
        }
    }
}

fn kind_of(slot: DeviceSlot) -> DeviceKind {
    match slot {
        DeviceSlot::Camera => DeviceKind::Camera,
        DeviceSlot::Microphone => DeviceKind::Microphone,
        DeviceSlot::Speaker => DeviceKind::Speaker,
    }
}

fn read_profile(path: &Path) -> Result<Profile, SettingsError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| SettingsError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Profile::default()),
        Err(source) => Err(SettingsError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_profile(path: &Path, profile: &Profile) -> Result<(), SettingsError> {
    let io = |source| SettingsError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let json = serde_json::to_vec_pretty(profile)
        .map_err(|error| io(std::io::Error::new(std::io::ErrorKind::InvalidData, error)))?;
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, json).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("confab-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn choices_and_the_name_survive_a_restart() {
        let dir = temp_dir("restart");
        let mut settings = Settings::load(Some(dir.clone()));
        settings
            .choose(DeviceSlot::Microphone, Some("confab_mic".into()))
            .expect("saved");
        settings.remember_name("  Ada  ").expect("saved");

        let again = Settings::load(Some(dir.clone()));
        assert_eq!(again.devices().microphone.as_deref(), Some("confab_mic"));
        assert_eq!(again.devices().camera, None);
        assert_eq!(again.profile().name.as_deref(), Some("Ada"));
        assert!(!dir.join("profile.json.partial").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_profile_means_no_name_and_is_replaced_by_the_next_save() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join(PROFILE_FILE), b"{not json").expect("write");
        let mut settings = Settings::load(Some(dir.clone()));
        assert_eq!(settings.profile().name, None);
        settings.remember_name("Grace").expect("saved");
        assert_eq!(
            Settings::load(Some(dir.clone())).profile().name.as_deref(),
            Some("Grace")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn without_a_directory_nothing_is_written_but_choices_hold_for_the_run() {
        let mut settings = Settings::load(None);
        settings
            .choose(DeviceSlot::Speaker, Some("sink".into()))
            .expect("kept");
        assert_eq!(settings.devices().speaker.as_deref(), Some("sink"));
    }
}
