//! The desktop app's meeting logic without the window: host or join, follow the meeting into
//! [`MeetingUpdate`]s, media on and off, chat, hands and host controls. The Tauri shell calls
//! these from its commands and nothing else; tests drive two of them against each other.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use confab_conference::models::CreateRequest;
use confab_discovery::Interfaces;
use confab_ipc::devices::{
    DeviceList, DeviceSlot, HostingServer, HostingServerSetting, MediaPreferences, PreviewStarted,
    Profile, RecentMeeting,
};
use confab_ipc::meeting::{
    ChatLine, FrameChannel, HostArgs, JoinArgs, MediaChoice, MeetingInfo, MeetingUpdate,
    NearbyMeeting, ShareTargetView, TransferState, TransferView, UpdateBatch, WaitingGuestView,
};
use confab_meeting::{ConferenceClient, Meeting, MeetingEvent, MeetingOptions};
use confab_rtc::room::{
    ByteStreamReader, ChatMessage, ConnectionState, FileCanceller, RoomEvent, RoomOptions,
    SavedFile, SentFile,
};
use tokio::sync::{Mutex, OnceCell, mpsc, watch};
use tokio::task::JoinHandle;

use crate::device_check::{self, DevicePreview};
use crate::frames::FrameServer;
use crate::hosting::{HostTarget, Hosting, HostingError};
use crate::media::{self, CallMedia, FrameSources, MediaError, Sources};
use crate::roster::{LocalTracks, Roster};
use crate::secrets::{SecretError, SecretStore};
use crate::settings::{Settings, SettingsError};
use crate::updates::UpdateLog;
use crate::{lock, unix_millis};

/// How long joining by code alone looks for the host on the LAN.
const DISCOVERY_TIME: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the home screen listens for listed meetings each time it asks.
const NEARBY_TIME: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("You are already in a meeting")]
    AlreadyInMeeting,
    #[error("You are not in a meeting")]
    NotInMeeting,
    #[error("No meeting with this code answered on your network. Ask for the invitation link.")]
    NotFoundNearby,
    #[error(transparent)]
    Hosting(#[from] HostingError),
    #[error(transparent)]
    Meeting(#[from] confab_meeting::MeetingError),
    #[error(transparent)]
    Conference(#[from] confab_meeting::ClientError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("the frame channel did not start: {0}")]
    Frames(std::io::Error),
    #[error("the choice was not saved: {0}")]
    Settings(#[from] SettingsError),
    #[error("No LiveKit server is set up for hosting: add one in Settings.")]
    NoHostingServer,
    #[error("The API secret for {0} is not in the system keyring: enter it again in Settings.")]
    NoHostingSecret(String),
    #[error("{0}")]
    InvalidHostingServer(&'static str),
    #[error(transparent)]
    Keyring(#[from] SecretError),
}

/// Where and how this app hosts and joins.
#[derive(Debug, Clone)]
pub struct CoreOptions {
    /// Where "Host a meeting" serves: all interfaces (the LAN) by default; loopback for tests.
    pub host_bind: IpAddr,
    pub room: RoomOptions,
    pub downloads: PathBuf,
    pub sources: Sources,
    /// Where joining by code alone looks for the host (mDNS); None: nowhere (a host bound to
    /// loopback has no LAN to ask).
    pub discovery: Option<Interfaces>,
    /// Where the device picks and the name are remembered; None: nowhere.
    pub config_dir: Option<PathBuf>,
    /// Where the hosting server's API secret is kept.
    pub secrets: SecretStore,
}

impl CoreOptions {
    /// The app's defaults, with `CONFAB_HOST_BIND` (an IP address) to host elsewhere than the
    /// LAN — tests keep two app instances on loopback with it — and `CONFAB_TEST_MEDIA=1`
    /// for the test pattern and a tone instead of the camera and microphone.
    pub fn from_env(downloads: PathBuf) -> Self {
        let host_bind = std::env::var("CONFAB_HOST_BIND")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let room = RoomOptions {
            bind_ip: host_bind.is_loopback().then_some(host_bind),
            ..RoomOptions::default()
        };
        let sources = if std::env::var("CONFAB_TEST_MEDIA").is_ok_and(|value| value == "1") {
            Sources::Test
        } else {
            Sources::Devices
        };
        Self {
            host_bind,
            room,
            downloads,
            sources,
            discovery: (!host_bind.is_loopback()).then_some(Interfaces::Lan),
            config_dir: Settings::default_dir(),
            secrets: SecretStore::session(),
        }
    }
}

/// The meeting we are in.
#[derive(Debug)]
struct Session {
    meeting: Arc<Meeting>,
    info: MeetingInfo,
    state: Arc<Mutex<SessionState>>,
    follower: JoinHandle<()>,
}

#[derive(Debug)]
struct SessionState {
    roster: Roster,
    media: CallMedia,
    choice: MediaChoice,
}

#[derive(Debug)]
pub struct AppCore {
    options: CoreOptions,
    updates: Arc<UpdateLog>,
    /// Our outgoing transfers still under way, to cancel them by id.
    sending: Arc<std::sync::Mutex<HashMap<String, FileCanceller>>>,
    /// Where each file received (by transfer id) was saved, to open it or show its folder
    /// without the page ever naming a path.
    received: Arc<std::sync::Mutex<HashMap<String, PathBuf>>>,
    /// Push-to-talk turned the microphone on: letting go turns it off.
    talking: std::sync::atomic::AtomicBool,
    frames: FrameSources,
    frame_server: OnceCell<FrameServer>,
    session: Mutex<Option<Session>>,
    hosting: Mutex<Option<Hosting>>,
    settings: Arc<std::sync::Mutex<Settings>>,
    /// The device check, while it is open.
    preview: Mutex<Option<DevicePreview>>,
}

impl AppCore {
    pub fn new(options: CoreOptions) -> Self {
        let settings = Settings::load(options.config_dir.clone());
        Self {
            settings: Arc::new(std::sync::Mutex::new(settings)),
            preview: Mutex::new(None),
            options,
            updates: Arc::new(UpdateLog::default()),
            sending: Arc::default(),
            received: Arc::default(),
            talking: std::sync::atomic::AtomicBool::new(false),
            frames: FrameSources::default(),
            frame_server: OnceCell::new(),
            session: Mutex::new(None),
            hosting: Mutex::new(None),
        }
    }

    /// Opens a meeting on this computer and enters it.
    pub async fn host(&self, args: HostArgs) -> Result<MeetingInfo, CoreError> {
        let mut session = self.session.lock().await;
        if session.is_some() {
            return Err(CoreError::AlreadyInMeeting);
        }
        self.before_entering(&args.name).await;
        let target = if args.on_server {
            let server = lock(&self.settings).profile().hosting_server.clone();
            HostTarget::LiveKit(server.ok_or(CoreError::NoHostingServer)?)
        } else {
            HostTarget::ThisComputer
        };
        let mut hosting = self.hosting.lock().await;
        if let Some(other) = hosting.take_if(|host| host.target() != &target) {
            other.stop().await;
        }
        if hosting.is_none() {
            *hosting = Some(self.start_hosting(&target).await?);
        }
        let Some(host) = hosting.as_ref() else {
            return Err(CoreError::NotInMeeting);
        };
        let request = CreateRequest {
            host_name: args.name.clone(),
            title: args.title,
            waiting_room: args.waiting_room,
            ..CreateRequest::default()
        };
        let (meeting, created, events) = Meeting::host(
            host.client().clone(),
            host.create_token(),
            &request,
            self.meeting_options(),
        )
        .await?;
        let info = MeetingInfo {
            code: created.ticket.code.clone(),
            title: created.ticket.title.clone(),
            invite: Some(created.invite),
            identity: created.ticket.identity.clone(),
            is_host: true,
            waiting: false,
        };
        *session = Some(self.follow(meeting, info.clone(), &args.name, args.media, events));
        Ok(info)
    }

    async fn start_hosting(&self, target: &HostTarget) -> Result<Hosting, CoreError> {
        let bind = self.options.host_bind;
        match target {
            HostTarget::ThisComputer => Ok(Hosting::start(bind).await?),
            HostTarget::LiveKit(server) => {
                let secret = self
                    .options
                    .secrets
                    .load(&server.account())
                    .await?
                    .ok_or_else(|| CoreError::NoHostingSecret(server.url.clone()))?;
                Ok(Hosting::start_on_livekit(bind, server, &secret).await?)
            }
        }
    }

    /// Sets up (or, with None, forgets) the LiveKit server to host on: its URL and API key in
    /// the profile, its secret in the OS keyring. Returns the profile as it now is.
    pub async fn set_hosting_server(
        &self,
        setting: Option<HostingServerSetting>,
    ) -> Result<Profile, CoreError> {
        let previous = lock(&self.settings).profile().hosting_server.clone();
        let server = match setting {
            Some(setting) => {
                let server = validated(setting.url, setting.api_key)?;
                if setting.api_secret.is_empty() {
                    return Err(CoreError::InvalidHostingServer(
                        "Enter the server's API secret.",
                    ));
                }
                self.options
                    .secrets
                    .save(
                        &server.account(),
                        &format!("Confab: LiveKit API secret for {}", server.url),
                        &setting.api_secret,
                    )
                    .await?;
                Some(server)
            }
            None => None,
        };
        if let Some(previous) = previous.filter(|previous| Some(previous) != server.as_ref())
            && let Err(error) = self.options.secrets.delete(&previous.account()).await
        {
            tracing::warn!(%error, "the previous server's secret was not removed");
        }
        let mut settings = lock(&self.settings);
        settings.set_hosting_server(server)?;
        Ok(settings.profile().clone())
    }

    /// Asks to join a meeting by code, at the host's address or the one the LAN knows.
    pub async fn join(&self, args: JoinArgs) -> Result<MeetingInfo, CoreError> {
        let mut session = self.session.lock().await;
        if session.is_some() {
            return Err(CoreError::AlreadyInMeeting);
        }
        self.before_entering(&args.name).await;
        let address = match (args.host.clone(), self.options.discovery) {
            (Some(host), _) => host,
            (None, Some(interfaces)) => {
                confab_discovery::find_meeting(&args.code, interfaces, DISCOVERY_TIME)
                    .await
                    .ok()
                    .flatten()
                    .ok_or(CoreError::NotFoundNearby)?
                    .to_string()
            }
            (None, None) => return Err(CoreError::NotFoundNearby),
        };
        let client = ConferenceClient::new(&address)?;
        let (meeting, events) =
            Meeting::join(client, &args.code, &args.name, self.meeting_options()).await?;
        let ticket = meeting.ticket();
        let joined = RecentMeeting {
            code: ticket.code.clone(),
            title: ticket.title.clone(),
            host: address.clone(),
            joined_at: unix_millis(),
        };
        if let Err(error) = lock(&self.settings).remember_meeting(joined) {
            tracing::warn!(%error, "the meeting was not remembered");
        }
        let info = MeetingInfo {
            code: ticket.code.clone(),
            title: ticket.title.clone(),
            invite: None,
            identity: ticket.identity.clone(),
            is_host: ticket.role.is_host(),
            waiting: ticket.waiting,
        };
        *session = Some(self.follow(meeting, info.clone(), &args.name, args.media, events));
        Ok(info)
    }

    /// Closes the device check (the meeting opens the devices itself) and remembers the name.
    async fn before_entering(&self, name: &str) {
        self.stop_preview().await;
        if let Err(error) = lock(&self.settings).remember_name(name) {
            tracing::warn!(%error, "the name was not remembered");
        }
    }

    fn meeting_options(&self) -> MeetingOptions {
        let mut options = MeetingOptions::new(self.options.downloads.clone());
        options.room = self.options.room.clone();
        options
    }

    /// Starts following the meeting's events into updates.
    fn follow(
        &self,
        meeting: Meeting,
        info: MeetingInfo,
        name: &str,
        choice: MediaChoice,
        events: mpsc::Receiver<MeetingEvent>,
    ) -> Session {
        let meeting = Arc::new(meeting);
        let (devices, preferences) = {
            let settings = lock(&self.settings);
            (settings.devices(), settings.profile().media)
        };
        let state = Arc::new(Mutex::new(SessionState {
            roster: Roster::new(&info.identity, name),
            media: CallMedia::new(
                self.frames.clone(),
                self.options.sources,
                devices,
                preferences,
            ),
            choice,
        }));
        let follower = tokio::spawn(
            Follower {
                meeting: meeting.clone(),
                state: state.clone(),
                updates: self.updates.clone(),
                received: self.received.clone(),
            }
            .run(events, !info.waiting),
        );
        Session {
            meeting,
            info,
            state,
            follower,
        }
    }

    /// Updates after `after`, waiting until there are some.
    pub async fn updates(&self, after: u64) -> UpdateBatch {
        self.updates.after(after).await
    }

    pub fn update_log(&self) -> &UpdateLog {
        &self.updates
    }

    pub async fn info(&self) -> Option<MeetingInfo> {
        self.session.lock().await.as_ref().map(|s| s.info.clone())
    }

    /// The meeting's state, when we are in one.
    async fn session_state(&self) -> Option<Arc<Mutex<SessionState>>> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|session| session.state.clone())
    }

    async fn current(&self) -> Result<(Arc<Meeting>, Arc<Mutex<SessionState>>), CoreError> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|session| (session.meeting.clone(), session.state.clone()))
            .ok_or(CoreError::NotInMeeting)
    }

    pub async fn send_chat(&self, text: &str, to: &[String]) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        let message = meeting.send_chat(text, to).await?;
        let name = state.lock().await.roster.name_of(&meeting.identity());
        self.updates.push(MeetingUpdate::Chat {
            line: chat_line(&message, &meeting.identity(), name),
        });
        Ok(())
    }

    pub async fn set_camera(&self, on: bool) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        let mut state = state.lock().await;
        state.choice.camera = on;
        let room = meeting.room().await?;
        let camera = state.media.set_camera(&room, on).await?;
        let local = LocalTracks {
            camera,
            ..state.roster.local().clone()
        };
        self.show_local(&mut state, local);
        Ok(())
    }

    pub async fn set_microphone(&self, on: bool) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        let mut state = state.lock().await;
        state.choice.microphone = on;
        let room = meeting.room().await?;
        let microphone = state.media.set_microphone(&room, on).await?;
        let local = LocalTracks {
            microphone,
            microphone_muted: !on,
            ..state.roster.local().clone()
        };
        self.show_local(&mut state, local);
        Ok(())
    }

    /// Push-to-talk held (`pressed`) or let go, from a key outside the page: pressed while
    /// muted turns the microphone on, and letting go mutes it again (only then). Outside a
    /// meeting it does nothing.
    pub async fn push_to_talk(&self, pressed: bool) -> Result<(), CoreError> {
        use std::sync::atomic::Ordering;
        let Ok((_, state)) = self.current().await else {
            return Ok(());
        };
        let muted = !state.lock().await.choice.microphone;
        if pressed && muted {
            self.talking.store(true, Ordering::SeqCst);
            self.set_microphone(true).await
        } else if !pressed && self.talking.swap(false, Ordering::SeqCst) {
            self.set_microphone(false).await
        } else {
            Ok(())
        }
    }

    /// Remembers whether global push-to-talk is on (the shell takes the keys).
    pub fn set_global_push_to_talk(&self, on: bool) -> Result<(), CoreError> {
        Ok(lock(&self.settings).set_global_push_to_talk(on)?)
    }

    /// Mutes the microphone when it is on, turns it on when it is off (the tray's item);
    /// returns whether it is on now.
    pub async fn toggle_microphone(&self) -> Result<bool, CoreError> {
        let (_, state) = self.current().await?;
        let on = !state.lock().await.choice.microphone;
        self.set_microphone(on).await?;
        Ok(on)
    }

    /// Whether we are in (or waiting for) a meeting; when the answer cannot wait for the
    /// meeting's lock (a window about to close), a busy lock counts as a meeting.
    pub fn in_meeting_now(&self) -> bool {
        self.session
            .try_lock()
            .map_or(true, |session| session.is_some())
    }

    /// How the microphone is processed and the camera sent (remembered): a meeting under way
    /// changes its processing at once, its camera quality from the camera's next start.
    pub async fn set_media_preferences(
        &self,
        preferences: MediaPreferences,
    ) -> Result<(), CoreError> {
        lock(&self.settings).set_media(preferences)?;
        if let Some(state) = self.session_state().await {
            state.lock().await.media.set_preferences(preferences);
        }
        Ok(())
    }

    /// What the app remembers about its user.
    pub fn profile(&self) -> Profile {
        lock(&self.settings).profile().clone()
    }

    /// The devices connected now and the ones picked.
    pub async fn list_devices(&self) -> DeviceList {
        let (sources, chosen) = (self.options.sources, lock(&self.settings).devices());
        tokio::task::spawn_blocking(move || device_check::list_devices(sources, chosen))
            .await
            .unwrap_or_default()
    }

    /// Picks a device (remembered between runs): during a meeting the running stream moves
    /// to it; otherwise the next meeting and device check use it.
    pub async fn choose_device(
        &self,
        slot: DeviceSlot,
        id: Option<String>,
    ) -> Result<(), CoreError> {
        lock(&self.settings).choose(slot, id.clone())?;
        if let Some(state) = self.session_state().await {
            state
                .lock()
                .await
                .media
                .switch_device(slot, id.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Opens the device check: the picked camera on the frame channel, the picked
    /// microphone's level (again, with the devices picked since, when it is open). Not
    /// during a meeting (its devices are in use).
    pub async fn start_preview(&self) -> Result<PreviewStarted, CoreError> {
        if self.session.lock().await.is_some() {
            return Err(CoreError::AlreadyInMeeting);
        }
        let mut preview = self.preview.lock().await;
        // The devices are free again only once the previous check has let go of them.
        if let Some(previous) = preview.take() {
            let _ = tokio::task::spawn_blocking(move || drop(previous)).await;
        }
        let (frames, sources) = (self.frames.clone(), self.options.sources);
        let chosen = lock(&self.settings).devices();
        let (opened, started) =
            tokio::task::spawn_blocking(move || DevicePreview::start(&frames, sources, &chosen))
                .await
                .map_err(|error| CoreError::Media(MediaError::Publish(error.to_string())))?;
        *preview = Some(opened);
        Ok(started)
    }

    /// The device check's microphone level, 0 to 1 (0 when the check is closed).
    pub async fn preview_level(&self) -> f32 {
        self.preview
            .lock()
            .await
            .as_ref()
            .map_or(0.0, DevicePreview::level)
    }

    pub async fn stop_preview(&self) {
        if let Some(previous) = self.preview.lock().await.take() {
            let _ = tokio::task::spawn_blocking(move || drop(previous)).await;
        }
    }

    /// Plays the chime on the picked speaker.
    pub async fn play_test_sound(&self) -> Result<(), CoreError> {
        let speaker = lock(&self.settings).devices().speaker;
        tokio::task::spawn_blocking(move || device_check::play_test_sound(speaker.as_deref()))
            .await
            .map_err(|error| CoreError::Media(MediaError::Speaker(error.to_string())))??;
        Ok(())
    }

    /// Sends files to everyone, or to the identities in `to`; their progress comes as
    /// `Transfer` updates.
    pub async fn send_files(&self, paths: &[PathBuf], to: &[String]) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        let from_name = state.lock().await.roster.name_of(&meeting.identity());
        for path in paths {
            let send = meeting.send_file(path, to).await?;
            let id = send.stream_id.clone();
            lock(&self.sending).insert(id.clone(), send.canceller());
            let name = path.file_name().map_or_else(
                || "file".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            );
            let transfer = TransferView {
                id: id.clone(),
                name,
                from_name: from_name.clone(),
                outgoing: true,
                bytes: 0,
                total: Some(send.total_bytes),
                state: TransferState::Active,
            };
            let (updates, sending) = (self.updates.clone(), self.sending.clone());
            let progress = send.progress();
            tokio::spawn(async move {
                let outcome = report_progress(&updates, transfer, progress, send.finish()).await;
                lock(&sending).remove(&id);
                if let Err(error) = outcome {
                    tracing::info!(%error, "a file was not sent");
                }
            });
        }
        Ok(())
    }

    /// Where the received file of transfer `id` was saved, if it was.
    pub fn received_file(&self, id: &str) -> Option<PathBuf> {
        lock(&self.received).get(id).cloned()
    }

    /// Stops one of our transfers; false when it already ended.
    pub fn cancel_transfer(&self, id: &str) -> bool {
        lock(&self.sending)
            .get(id)
            .map(FileCanceller::cancel)
            .is_some()
    }

    /// The screens and windows that can be shared.
    pub async fn share_targets(&self) -> Result<Vec<ShareTargetView>, CoreError> {
        let sources = self.options.sources;
        tokio::task::spawn_blocking(move || media::share_targets(sources))
            .await
            .map_err(|error| CoreError::Media(MediaError::Screen(error.to_string())))?
            .map_err(CoreError::Media)
    }

    /// Shares the screen or window `id` (replacing a share under way); our tile and everyone
    /// else's show it. A share whose capture ends (its window closed, the desktop stopped it)
    /// is stopped for everyone.
    pub async fn start_share(&self, id: &str) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        let room = meeting.room().await?;
        // Opened before taking the meeting's state: a desktop's picker may wait for the user.
        let (sources, id) = (self.options.sources, id.to_owned());
        let source = tokio::task::spawn_blocking(move || media::share_source(sources, &id))
            .await
            .map_err(|error| CoreError::Media(MediaError::Screen(error.to_string())))??;
        let mut locked = state.lock().await;
        let screen = locked.media.start_share(&room, source).await?;
        let local = LocalTracks {
            screen: Some(screen.clone()),
            ..locked.roster.local().clone()
        };
        self.show_local(&mut locked, local);
        drop(locked);
        tokio::spawn(end_with_capture(state, self.updates.clone(), screen));
        Ok(())
    }

    /// Stops our share.
    pub async fn stop_share(&self) -> Result<(), CoreError> {
        let (_, state) = self.current().await?;
        let mut state = state.lock().await;
        state.media.stop_share().await;
        let local = LocalTracks {
            screen: None,
            ..state.roster.local().clone()
        };
        self.show_local(&mut state, local);
        Ok(())
    }

    /// Our own tracks changed: the tiles show it.
    fn show_local(&self, state: &mut SessionState, local: LocalTracks) {
        if state.roster.set_local(local) {
            self.updates.push(participants(&state.roster));
        }
    }

    /// A reaction everyone sees on our tile for a moment.
    pub async fn react(&self, emoji: &str) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        meeting.react(emoji).await?;
        let mut state = state.lock().await;
        state.roster.set_reaction(emoji);
        self.updates.push(participants(&state.roster));
        Ok(())
    }

    pub async fn raise_hand(&self, raised: bool) -> Result<(), CoreError> {
        let (meeting, state) = self.current().await?;
        meeting.raise_hand(raised).await?;
        let mut state = state.lock().await;
        state.roster.set_hand_raised(raised);
        self.updates.push(participants(&state.roster));
        Ok(())
    }

    pub async fn admit(&self, identity: Option<&str>) -> Result<(), CoreError> {
        let (meeting, _) = self.current().await?;
        match identity {
            Some(identity) => meeting.admit(identity).await?,
            None => drop(meeting.admit_all().await?),
        }
        Ok(())
    }

    pub async fn deny(&self, identity: &str) -> Result<(), CoreError> {
        let (meeting, _) = self.current().await?;
        Ok(meeting.deny(identity).await?)
    }

    pub async fn mute(&self, identity: &str, track: &str) -> Result<(), CoreError> {
        let (meeting, _) = self.current().await?;
        Ok(meeting.mute(identity, track).await?)
    }

    pub async fn remove(&self, identity: &str) -> Result<(), CoreError> {
        let (meeting, _) = self.current().await?;
        Ok(meeting.remove(identity).await?)
    }

    /// Ends the meeting for everyone (hosts).
    pub async fn end(&self) -> Result<(), CoreError> {
        let (meeting, _) = self.current().await?;
        meeting.end_for_all().await?;
        Ok(())
    }

    /// Leaves. A host's own meeting ends with it: its app is the meeting's server.
    pub async fn leave(&self) -> Result<(), CoreError> {
        let session = self.session.lock().await.take();
        if let Some(session) = session {
            session.follower.abort();
            session.state.lock().await.media.stop();
            session.meeting.leave().await?;
            self.updates.push(MeetingUpdate::Ended {
                message: "You left the meeting".into(),
            });
        }
        if let Some(hosting) = self.hosting.lock().await.take() {
            hosting.stop().await;
        }
        Ok(())
    }

    /// The meetings hosts on the LAN chose to list (none where the app does not search the
    /// LAN).
    pub async fn nearby(&self) -> Vec<NearbyMeeting> {
        let Some(interfaces) = self.options.discovery else {
            return Vec::new();
        };
        match confab_discovery::nearby_meetings(interfaces, NEARBY_TIME).await {
            Ok(found) => found
                .into_iter()
                .map(|meeting| NearbyMeeting {
                    title: meeting.title,
                    code: meeting.code,
                    host: meeting.address.to_string(),
                })
                .collect(),
            Err(error) => {
                tracing::info!(%error, "no LAN discovery");
                Vec::new()
            }
        }
    }

    /// Where tiles read decoded frames (started on first use).
    pub async fn frame_channel(&self) -> Result<FrameChannel, CoreError> {
        let server = self
            .frame_server
            .get_or_try_init(|| FrameServer::start(self.frames.clone()))
            .await
            .map_err(CoreError::Frames)?;
        Ok(server.channel())
    }
}

/// The task that turns the meeting's events into updates and keeps media in step.
struct Follower {
    meeting: Arc<Meeting>,
    state: Arc<Mutex<SessionState>>,
    updates: Arc<UpdateLog>,
    received: Arc<std::sync::Mutex<HashMap<String, PathBuf>>>,
}

impl Follower {
    async fn run(self, mut events: mpsc::Receiver<MeetingEvent>, admitted: bool) {
        if admitted {
            self.start_media().await;
        }
        while let Some(event) = events.recv().await {
            match event {
                MeetingEvent::Waiting => self.updates.push(MeetingUpdate::Waiting),
                MeetingEvent::Admitted => {
                    self.updates.push(MeetingUpdate::Admitted);
                    self.start_media().await;
                }
                MeetingEvent::WaitingList(list) => self.updates.push(MeetingUpdate::WaitingRoom {
                    guests: list
                        .waiting
                        .into_iter()
                        .map(|guest| WaitingGuestView {
                            identity: guest.identity,
                            name: guest.name,
                            waiting_seconds: guest.waiting_seconds,
                        })
                        .collect(),
                    locked: list.settings.locked,
                    waiting_room: list.settings.waiting_room,
                }),
                MeetingEvent::Roles(roles) => {
                    let mut state = self.state.lock().await;
                    state.roster.set_roles(roles);
                    self.updates.push(participants(&state.roster));
                }
                MeetingEvent::ChatHistory(entries) => {
                    let state = self.state.lock().await;
                    for entry in entries {
                        let name = state.roster.name_of(&entry.from);
                        self.updates.push(MeetingUpdate::Chat {
                            line: ChatLine {
                                id: entry.id,
                                from_name: name,
                                from: entry.from,
                                text: entry.message,
                                private: false,
                                timestamp: entry.timestamp,
                            },
                        });
                    }
                }
                MeetingEvent::Room(event) => self.on_room_event(event).await,
                MeetingEvent::Ended(end) => {
                    self.state.lock().await.media.stop();
                    self.updates.push(MeetingUpdate::Ended {
                        message: end.message(),
                    });
                    return;
                }
            }
        }
    }

    async fn on_room_event(&self, event: RoomEvent) {
        let event = match event {
            RoomEvent::ByteStream(reader) => return self.receive_file(reader).await,
            other => other,
        };
        let mut state = self.state.lock().await;
        if state.roster.apply(&event) {
            self.updates.push(participants(&state.roster));
        }
        match event {
            RoomEvent::TrackSubscribed { track, .. } => state.media.track_subscribed(track),
            RoomEvent::TrackUnsubscribed { track_sid, .. } => {
                state.media.track_unsubscribed(&track_sid);
            }
            RoomEvent::Chat(message) => {
                let from = message.from.clone().unwrap_or_default();
                let name = state.roster.name_of(&from);
                self.updates.push(MeetingUpdate::Chat {
                    line: chat_line(&message, &from, name),
                });
            }
            RoomEvent::LocalTrackMuted { track_sid, muted } => {
                // A host muted our microphone (or camera); we may unmute ourselves.
                let mut local = state.roster.local().clone();
                if local.microphone.as_deref() == Some(track_sid.as_str()) {
                    local.microphone_muted = muted;
                }
                if local.camera.as_deref() == Some(track_sid.as_str()) && muted {
                    local.camera = None;
                }
                if state.roster.set_local(local) {
                    self.updates.push(participants(&state.roster));
                }
            }
            RoomEvent::Connection(connection) => {
                self.updates.push(MeetingUpdate::Reconnecting {
                    reconnecting: matches!(connection, ConnectionState::Reconnecting),
                });
            }
            _ => {}
        }
    }

    /// Saves a file someone sent into the downloads folder, reporting its progress.
    async fn receive_file(&self, reader: ByteStreamReader) {
        let from = reader.info.from.clone().unwrap_or_default();
        let from_name = self.state.lock().await.roster.name_of(&from);
        let transfer = TransferView {
            id: reader.info.id.clone(),
            name: reader.info.name.clone(),
            from_name,
            outgoing: false,
            bytes: 0,
            total: reader.info.total_length,
            state: TransferState::Active,
        };
        let (meeting, updates) = (self.meeting.clone(), self.updates.clone());
        let received = self.received.clone();
        tokio::spawn(async move {
            let progress = watch::Sender::new(0);
            let id = transfer.id.clone();
            // Known by its id before the page hears it is saved (and may ask to open it).
            let saving = async {
                let saved = meeting.save_file(reader, &progress).await;
                if let Ok(file) = &saved {
                    lock(&received).insert(id, file.path.clone());
                }
                saved
            };
            let saved = report_progress(&updates, transfer, progress.subscribe(), saving).await;
            if let Err(error) = saved {
                tracing::info!(%error, "a received file was not saved");
            }
        });
    }

    /// Camera and microphone as chosen before joining; a missing device is reported in the
    /// log and the meeting goes on without it.
    async fn start_media(&self) {
        let mut state = self.state.lock().await;
        let choice = state.choice;
        let Ok(room) = self.meeting.room().await else {
            return;
        };
        let mut local = state.roster.local().clone();
        match state.media.set_camera(&room, choice.camera).await {
            Ok(camera) => local.camera = camera,
            Err(error) => tracing::warn!(%error, "joined without a camera"),
        }
        match state.media.set_microphone(&room, choice.microphone).await {
            Ok(microphone) => {
                local.microphone = microphone;
                local.microphone_muted = !choice.microphone;
            }
            Err(error) => tracing::warn!(%error, "joined without a microphone"),
        }
        state.roster.set_local(local);
        self.updates.push(participants(&state.roster));
    }
}

/// How often a share is checked for a capture that ended by itself.
const SHARE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Stops the share `screen` for everyone once its capture ends by itself; returns when the
/// share is stopped (by this or by the user) or the meeting is over.
async fn end_with_capture(
    state: Arc<Mutex<SessionState>>,
    updates: Arc<UpdateLog>,
    screen: String,
) {
    let mut every = tokio::time::interval(SHARE_CHECK_EVERY);
    loop {
        every.tick().await;
        let mut state = state.lock().await;
        if state.roster.local().screen.as_deref() != Some(screen.as_str()) {
            return;
        }
        if state.media.share_running() {
            continue;
        }
        tracing::info!(%screen, "the shared screen or window went away; the share stops");
        state.media.stop_share().await;
        let local = LocalTracks {
            screen: None,
            ..state.roster.local().clone()
        };
        if state.roster.set_local(local) {
            updates.push(participants(&state.roster));
        }
        return;
    }
}

/// How often a transfer's progress is reported while it runs.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Something a transfer ends with: where a received file was saved, or nothing for a sent one.
trait Finished {
    fn saved_at(&self) -> Option<String>;
}

impl Finished for SentFile {
    fn saved_at(&self) -> Option<String> {
        None
    }
}

impl Finished for SavedFile {
    fn saved_at(&self) -> Option<String> {
        Some(self.path.display().to_string())
    }
}

/// Reports `transfer`'s progress every [`PROGRESS_EVERY`] until `done` finishes, then how it
/// ended; returns the outcome.
async fn report_progress<T: Finished, E: std::fmt::Display>(
    updates: &UpdateLog,
    mut transfer: TransferView,
    progress: watch::Receiver<u64>,
    done: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    tokio::pin!(done);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let outcome = loop {
        tokio::select! {
            outcome = &mut done => break outcome,
            _ = tick.tick() => {
                transfer.bytes = *progress.borrow();
                updates.push(MeetingUpdate::Transfer { transfer: transfer.clone() });
            }
        }
    };
    transfer.bytes = *progress.borrow();
    transfer.state = match &outcome {
        Ok(finished) => TransferState::Done {
            path: finished.saved_at(),
        },
        Err(error) => TransferState::Failed {
            message: error.to_string(),
        },
    };
    updates.push(MeetingUpdate::Transfer { transfer });
    outcome.map_err(|error| error.to_string())
}

fn participants(roster: &Roster) -> MeetingUpdate {
    MeetingUpdate::Participants {
        participants: roster.views(),
    }
}

fn chat_line(message: &ChatMessage, from: &str, from_name: String) -> ChatLine {
    ChatLine {
        id: message.id.clone(),
        from: from.to_owned(),
        from_name,
        text: message.message.clone(),
        private: message.private,
        timestamp: message.timestamp,
    }
}

/// A hosting server's URL and API key, checked: a WebSocket (or HTTP) URL of a host, and a
/// key. `https://` is taken as `wss://` (LiveKit Cloud shows project URLs both ways).
fn validated(url: String, api_key: String) -> Result<HostingServer, CoreError> {
    let url = url.trim().trim_end_matches('/');
    let url = match url.split_once("://") {
        Some(("wss" | "ws", rest)) if !rest.is_empty() => url.to_owned(),
        Some(("https", rest)) if !rest.is_empty() => format!("wss://{rest}"),
        Some(("http", rest)) if !rest.is_empty() => format!("ws://{rest}"),
        _ => {
            return Err(CoreError::InvalidHostingServer(
                "The server's URL starts with wss:// (or ws://), e.g. wss://example.livekit.cloud",
            ));
        }
    };
    let api_key = api_key.trim();
    if api_key.is_empty() {
        return Err(CoreError::InvalidHostingServer(
            "Enter the server's API key.",
        ));
    }
    Ok(HostingServer {
        url,
        api_key: api_key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sendable<T: Send>(_: T) {}

    /// The shell runs these on Tauri's multi-threaded runtime: their futures must be `Send`
    /// (a thread-local random generator held across an await once made them not).
    #[test]
    fn the_shells_calls_can_move_between_threads() {
        let core = AppCore::new(CoreOptions::from_env(std::env::temp_dir()));
        let media = MediaChoice::default();
        sendable(core.host(HostArgs {
            name: String::new(),
            title: String::new(),
            waiting_room: true,
            media,
            on_server: false,
        }));
        let code = confab_ipc::MeetingCode::parse("abc-defg-hij").expect("code");
        sendable(core.join(JoinArgs {
            code,
            host: None,
            name: String::new(),
            media,
        }));
        sendable(core.updates(0));
        sendable(core.leave());
        sendable(core.end());
        sendable(core.send_chat("", &[]));
        sendable(core.set_camera(true));
        sendable(core.set_microphone(true));
        sendable(core.raise_hand(true));
        sendable(core.admit(None));
        sendable(core.deny(""));
        sendable(core.mute("", ""));
        sendable(core.remove(""));
        sendable(core.frame_channel());
        sendable(core.nearby());
        sendable(core.send_files(&[], &[]));
        sendable(core.list_devices());
        sendable(core.choose_device(DeviceSlot::Camera, None));
        sendable(core.start_preview());
        sendable(core.preview_level());
        sendable(core.play_test_sound());
        sendable(core.share_targets());
        sendable(core.start_share(""));
        sendable(core.stop_share());
        sendable(core.react(""));
        sendable(core.toggle_microphone());
        sendable(core.set_media_preferences(MediaPreferences::default()));
    }
}
