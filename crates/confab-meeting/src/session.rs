//! A meeting as a participant lives it: [`Meeting::host`] opens one, [`Meeting::join`] asks to
//! join one by code; either way a task follows the room and turns it into [`MeetingEvent`]s —
//! waiting, admitted, who knocks (for hosts), chat history, the end and why.
//!
//! A waiting guest knocks every [`KNOCK_EVERY`] until a host lets it in: on Confab's SFU its
//! permissions change in place (`ParticipantPermissionsChanged`); on a LiveKit deployment it
//! waited in a lobby room and moves to the meeting's room with the ticket its knock returns.
//! Hosts hear of a new guest at once (the server's `confab.waiting` data) and poll the waiting
//! list every [`POLL_EVERY`] as well. The host keeps the public chat and gives it to everyone
//! who arrives later.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use confab_conference::models::{
    ADMITTED_TOPIC, Admission, CreateRequest, CreateResponse, EndCause, MeetingRoles, Role,
    RoomTicket, SettingsChange, WAITING_TOPIC, WaitingList,
};
use confab_conference::twirp::RoomService;
use confab_ipc::MeetingCode;
use confab_rtc::room::files::save_byte_stream;
use confab_rtc::room::{
    ByteStreamReader, ChatMessage, DisconnectReason, FileError, FileSend, Room, RoomError,
    RoomEvent, RoomOptions, SavedFile, StreamOptions,
};
use livekit_protocol as proto;
use tokio::sync::{RwLock, RwLockReadGuard, mpsc, watch};
use tokio::task::JoinHandle;

use crate::chat::{ChatEntry, ChatHistory, HISTORY_TOPIC};
use crate::client::{ClientError, ConferenceClient};
use crate::presence;

/// A waiting guest says it is still there this often.
pub const KNOCK_EVERY: Duration = Duration::from_secs(5);
/// Hosts ask who waits this often, besides being told at once.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// Files larger than this are refused unless the options say otherwise.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 << 30;
const EVENT_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct MeetingOptions {
    pub room: RoomOptions,
    /// Where received files are saved.
    pub downloads: PathBuf,
    /// Received files larger than this are refused.
    pub max_file_bytes: u64,
}

impl MeetingOptions {
    pub fn new(downloads: PathBuf) -> Self {
        Self {
            room: RoomOptions::default(),
            downloads,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Why the meeting is over for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingEnd {
    /// We left.
    Left,
    /// A host turned down our request to join.
    Denied,
    /// A host ended the meeting for everyone.
    EndedByHost,
    /// The hosting app closed (its SFU shut down).
    HostClosedApp,
    /// Every host left (a meeting on a LiveKit deployment, which outlives any one app).
    HostsLeft,
    /// A host removed us.
    Removed,
    /// We joined the meeting again from somewhere else.
    JoinedElsewhere,
    /// The connection was lost and could not be restored.
    ConnectionLost(String),
}

impl MeetingEnd {
    /// What to tell the person.
    pub fn message(&self) -> String {
        match self {
            Self::Left => "You left the meeting".into(),
            Self::Denied => "The host didn't let you in".into(),
            Self::EndedByHost => "The host ended the meeting".into(),
            Self::HostClosedApp => "The meeting ended: the host closed Confab".into(),
            Self::HostsLeft => "The meeting ended: the host left".into(),
            Self::Removed => "A host removed you from the meeting".into(),
            Self::JoinedElsewhere => "You joined this meeting from another device".into(),
            Self::ConnectionLost(why) => format!("The connection was lost: {why}"),
        }
    }
}

#[derive(Debug)]
pub enum MeetingEvent {
    /// We wait for a host to let us in (the first event when the meeting has a waiting room).
    Waiting,
    /// A host let us in: we may now publish, subscribe and send data.
    Admitted,
    /// For hosts: who waits now.
    WaitingList(WaitingList),
    /// Who hosts (from the room's metadata; changes when someone is promoted).
    Roles(MeetingRoles),
    /// The public chat from before we arrived, from the host.
    ChatHistory(Vec<ChatEntry>),
    /// Anything else the room reports (participants, tracks, chat, files, …).
    Room(RoomEvent),
    /// The last event.
    Ended(MeetingEnd),
}

#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error(transparent)]
    Conference(#[from] ClientError),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("only a host may do that")]
    NotHost,
    #[error("you can do that once a host has let you in")]
    StillWaiting,
    #[error("the meeting is over")]
    Over,
    #[error("“{0}” is not a reaction")]
    NotAReaction(String),
    #[error(transparent)]
    RoomService(#[from] confab_conference::ControlError),
}

/// What the meeting task and the handle share.
#[derive(Debug)]
struct Shared {
    client: ConferenceClient,
    options: MeetingOptions,
    room: RwLock<Option<Room>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    ticket: RoomTicket,
    waiting: bool,
    roles: MeetingRoles,
    /// A token with the host's rights (the host's own, or a co-host's from `host-token`).
    host_token: Option<String>,
    history: ChatHistory,
    ended: bool,
    /// Why the server said the meeting ends (room metadata just before `ROOM_DELETED`).
    ended_because: Option<EndCause>,
}

/// A meeting we are in. Dropping it leaves.
#[derive(Debug)]
pub struct Meeting {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    admitted: watch::Receiver<bool>,
}

impl Meeting {
    /// Opens a meeting on `client`'s server and enters it as its host. `create_token` is an
    /// API token with `roomCreate` for that server.
    pub async fn host(
        client: ConferenceClient,
        create_token: &str,
        request: &CreateRequest,
        options: MeetingOptions,
    ) -> Result<(Meeting, CreateResponse, mpsc::Receiver<MeetingEvent>), MeetingError> {
        let created = client.create(create_token, request).await?;
        let (meeting, events) = Self::enter(client, created.ticket.clone(), options).await?;
        Ok((meeting, created, events))
    }

    /// Asks to join the meeting with `code`, as `name`, and enters its room (its waiting
    /// room first, if it has one).
    pub async fn join(
        client: ConferenceClient,
        code: &MeetingCode,
        name: &str,
        options: MeetingOptions,
    ) -> Result<(Meeting, mpsc::Receiver<MeetingEvent>), MeetingError> {
        let ticket = client.join(code, name).await?;
        Self::enter(client, ticket, options).await
    }

    /// Enters the room a ticket opens (one from [`ConferenceClient::join`] or `create`).
    pub async fn enter(
        client: ConferenceClient,
        ticket: RoomTicket,
        options: MeetingOptions,
    ) -> Result<(Meeting, mpsc::Receiver<MeetingEvent>), MeetingError> {
        let (room, room_events) =
            Room::connect(&ticket.server_url, &ticket.token, options.room.clone()).await?;
        let waiting = ticket.waiting;
        let host_token = ticket.role.is_host().then(|| ticket.token.clone());
        let shared = Arc::new(Shared {
            client,
            options,
            room: RwLock::new(Some(room)),
            state: Mutex::new(State {
                ticket,
                waiting,
                roles: MeetingRoles::default(),
                host_token,
                history: ChatHistory::default(),
                ended: false,
                ended_because: None,
            }),
        });
        let (sender, events) = mpsc::channel(EVENT_CAPACITY);
        let (admitted_sender, admitted) = watch::channel(!waiting);
        if waiting {
            let _ = sender.try_send(MeetingEvent::Waiting);
        }
        let task = tokio::spawn(
            Follower {
                shared: shared.clone(),
                out: sender,
                admitted: admitted_sender,
            }
            .run(room_events),
        );
        Ok((
            Meeting {
                shared,
                task,
                admitted,
            },
            events,
        ))
    }

    /// The meeting's room. After a lobby admission this is the meeting's room, no longer
    /// the lobby.
    pub async fn room(&self) -> Result<RwLockReadGuard<'_, Room>, MeetingError> {
        RwLockReadGuard::try_map(self.shared.room.read().await, Option::as_ref)
            .map_err(|_| MeetingError::Over)
    }

    pub fn ticket(&self) -> RoomTicket {
        self.shared.state().ticket.clone()
    }

    pub fn identity(&self) -> String {
        self.shared.state().ticket.identity.clone()
    }

    pub fn is_waiting(&self) -> bool {
        self.shared.state().waiting
    }

    /// Resolves once a host has let us in (at once when there was nothing to wait for).
    pub async fn admitted(&self) -> Result<(), MeetingError> {
        let mut admitted = self.admitted.clone();
        admitted
            .wait_for(|admitted| *admitted)
            .await
            .map(drop)
            .map_err(|_| MeetingError::Over)
    }

    pub fn roles(&self) -> MeetingRoles {
        self.shared.state().roles.clone()
    }

    /// The public chat as the host keeps it.
    pub fn chat_history(&self) -> Vec<ChatEntry> {
        self.shared.state().history.entries()
    }

    /// A chat message to everyone, or privately to `to`.
    pub async fn send_chat(&self, text: &str, to: &[String]) -> Result<ChatMessage, MeetingError> {
        self.require_admitted()?;
        let message = self.room().await?.send_chat(text, to).await?;
        if message.private {
            return Ok(message);
        }
        let identity = self.identity();
        let mut state = self.shared.state();
        if state.ticket.role == Role::Host {
            state
                .history
                .record(ChatEntry::from_message(&message, &identity));
        }
        Ok(message)
    }

    /// Sends a file to everyone or to `to` (LiveKit's `sendFile`: a byte stream).
    pub async fn send_file(&self, path: &Path, to: &[String]) -> Result<FileSend, MeetingError> {
        self.require_admitted()?;
        let options = StreamOptions {
            destinations: to.to_vec(),
            ..Default::default()
        };
        Ok(self.room().await?.send_file(path, options).await?)
    }

    /// Saves a received file into the downloads folder under a safe, unused name; `progress`
    /// follows the bytes written.
    pub async fn save_file(
        &self,
        reader: ByteStreamReader,
        progress: &watch::Sender<u64>,
    ) -> Result<SavedFile, FileError> {
        let options = &self.shared.options;
        tokio::fs::create_dir_all(&options.downloads).await?;
        save_byte_stream(
            reader,
            &options.downloads,
            progress,
            Some(options.max_file_bytes),
        )
        .await
    }

    pub async fn raise_hand(&self, raised: bool) -> Result<(), MeetingError> {
        self.require_admitted()?;
        Ok(self
            .room()
            .await?
            .set_attributes(presence::hand_attributes(raised))
            .await?)
    }

    pub async fn react(&self, emoji: &str) -> Result<(), MeetingError> {
        self.require_admitted()?;
        let now = unix_millis();
        let attributes = presence::reaction_attributes(emoji, now)
            .ok_or_else(|| MeetingError::NotAReaction(emoji.to_owned()))?;
        Ok(self.room().await?.set_attributes(attributes).await?)
    }

    // ---- host controls ----

    fn host_token(&self) -> Result<String, MeetingError> {
        self.shared
            .state()
            .host_token
            .clone()
            .ok_or(MeetingError::NotHost)
    }

    pub async fn waiting_list(&self) -> Result<WaitingList, MeetingError> {
        Ok(self.shared.client.waiting(&self.host_token()?).await?)
    }

    pub async fn admit(&self, identity: &str) -> Result<(), MeetingError> {
        let token = self.host_token()?;
        self.shared.client.admit(&token, Some(identity)).await?;
        Ok(())
    }

    /// Lets everyone waiting in; returns who.
    pub async fn admit_all(&self) -> Result<Vec<String>, MeetingError> {
        let token = self.host_token()?;
        Ok(self.shared.client.admit(&token, None).await?.admitted)
    }

    pub async fn deny(&self, identity: &str) -> Result<(), MeetingError> {
        Ok(self
            .shared
            .client
            .deny(&self.host_token()?, identity)
            .await?)
    }

    pub async fn change_settings(
        &self,
        change: SettingsChange,
    ) -> Result<WaitingList, MeetingError> {
        let token = self.host_token()?;
        Ok(self.shared.client.change_settings(&token, change).await?)
    }

    pub async fn promote(&self, identity: &str) -> Result<(), MeetingError> {
        Ok(self
            .shared
            .client
            .promote(&self.host_token()?, identity)
            .await?)
    }

    /// Mutes a participant's track (they can unmute themselves).
    pub async fn mute(&self, identity: &str, track_sid: &str) -> Result<(), MeetingError> {
        let (service, token, room) = self.room_service()?;
        let request = proto::MuteRoomTrackRequest {
            room,
            identity: identity.to_owned(),
            track_sid: track_sid.to_owned(),
            muted: true,
        };
        Ok(service.mute_published_track(&token, request).await?)
    }

    /// Takes a participant out of the meeting.
    pub async fn remove(&self, identity: &str) -> Result<(), MeetingError> {
        let (service, token, room) = self.room_service()?;
        Ok(service.remove_participant(&token, &room, identity).await?)
    }

    fn room_service(&self) -> Result<(RoomService, String, String), MeetingError> {
        let token = self.host_token()?;
        let ticket = self.ticket();
        let service = RoomService::new(&ticket.server_url)?;
        Ok((service, token, ticket.room))
    }

    /// Ends the meeting for everyone.
    pub async fn end_for_all(&self) -> Result<(), MeetingError> {
        Ok(self.shared.client.end(&self.host_token()?).await?)
    }

    /// Leaves; the events end with `Ended(Left)`.
    pub async fn leave(&self) -> Result<(), MeetingError> {
        let room = self.shared.room.write().await.take();
        match room {
            Some(room) => Ok(room.leave().await?),
            None => Ok(()),
        }
    }

    fn require_admitted(&self) -> Result<(), MeetingError> {
        let state = self.shared.state();
        if state.ended {
            Err(MeetingError::Over)
        } else if state.waiting {
            Err(MeetingError::StillWaiting)
        } else {
            Ok(())
        }
    }
}

impl Drop for Meeting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the follower does after an event.
enum Next {
    Continue,
    KnockNow,
    End(MeetingEnd),
}

/// The task that follows the room for a [`Meeting`].
struct Follower {
    shared: Arc<Shared>,
    out: mpsc::Sender<MeetingEvent>,
    admitted: watch::Sender<bool>,
}

impl Follower {
    async fn run(self, mut events: mpsc::Receiver<RoomEvent>) {
        let mut knock = tokio::time::interval(KNOCK_EVERY);
        let mut poll = tokio::time::interval(POLL_EVERY);
        let end = loop {
            let (waiting, hosting) = {
                let state = self.shared.state();
                (state.waiting, state.host_token.is_some())
            };
            let next = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => Next::End(MeetingEnd::ConnectionLost("the room closed".into())),
                },
                _ = knock.tick(), if waiting => Next::KnockNow,
                _ = poll.tick(), if hosting => {
                    self.poll_waiting().await;
                    Next::Continue
                }
            };
            let next = match next {
                Next::KnockNow => self.knock(&mut events).await,
                other => other,
            };
            if let Next::End(end) = next {
                break end;
            }
        };
        self.shared.state().ended = true;
        // Dropping the room leaves it, if the end did not already.
        self.shared.room.write().await.take();
        let _ = self.out.send(MeetingEvent::Ended(end)).await;
    }

    async fn emit(&self, event: MeetingEvent) {
        let _ = self.out.send(event).await;
    }

    async fn on_event(&self, event: RoomEvent) -> Next {
        match &event {
            RoomEvent::PermissionsChanged(permissions) if permissions.can_subscribe => {
                self.on_admitted().await;
            }
            RoomEvent::Data(data) if data.from.is_none() => match data.topic.as_deref() {
                Some(WAITING_TOPIC) => {
                    if let Ok(list) = serde_json::from_slice::<WaitingList>(&data.payload) {
                        self.emit(MeetingEvent::WaitingList(list)).await;
                    }
                    return Next::Continue;
                }
                Some(ADMITTED_TOPIC) => return Next::KnockNow,
                _ => {}
            },
            RoomEvent::Chat(message) if !message.private => {
                let mut state = self.shared.state();
                if state.ticket.role == Role::Host {
                    let sender = message.from.clone().unwrap_or_default();
                    state
                        .history
                        .record(ChatEntry::from_message(message, &sender));
                }
            }
            RoomEvent::Text { info, text } if info.topic == HISTORY_TOPIC => {
                let from_host = info
                    .from
                    .as_deref()
                    .is_some_and(|from| from == self.shared.state().roles.host);
                match ChatHistory::decode(text) {
                    Some(entries) if from_host => {
                        self.emit(MeetingEvent::ChatHistory(entries)).await;
                    }
                    _ => tracing::info!(from = ?info.from, "chat history ignored: not the host's"),
                }
                return Next::Continue;
            }
            RoomEvent::ParticipantJoined(participant)
            | RoomEvent::ParticipantUpdated(participant)
                if participant.permissions.can_subscribe =>
            {
                self.give_history(&participant.identity).await;
            }
            RoomEvent::RoomMetadata(metadata) => match MeetingRoles::from_room_metadata(metadata) {
                Some(MeetingRoles {
                    ended: Some(cause), ..
                }) => self.shared.state().ended_because = Some(cause),
                Some(roles) => self.on_roles(roles).await,
                None => {}
            },
            RoomEvent::Disconnected(reason) => return Next::End(self.why_ended(reason).await),
            _ => {}
        }
        self.emit(MeetingEvent::Room(event)).await;
        Next::Continue
    }

    /// We may take part now (once: later permission changes are not admissions).
    async fn on_admitted(&self) {
        if std::mem::replace(&mut self.shared.state().waiting, false) {
            self.admitted.send_replace(true);
            self.emit(MeetingEvent::Admitted).await;
        }
    }

    /// The host sends a newcomer the public chat so far, privately.
    async fn give_history(&self, identity: &str) {
        let history = {
            let mut state = self.shared.state();
            if state.ticket.role != Role::Host {
                return;
            }
            state.history.for_newcomer(identity)
        };
        let Some(history) = history else {
            return;
        };
        tracing::debug!(%identity, "giving the chat history");
        let room = self.shared.room.read().await;
        if let Some(room) = room.as_ref()
            && let Err(error) = room
                .send_text(&history, HISTORY_TOPIC, &[identity.to_owned()])
                .await
        {
            tracing::warn!(%identity, %error, "chat history not sent");
        }
    }

    async fn on_roles(&self, roles: MeetingRoles) {
        let (became_co_host, token) = {
            let mut state = self.shared.state();
            let identity = state.ticket.identity.clone();
            state.roles = roles.clone();
            let co_host = roles.role_of(&identity) == Role::CoHost;
            (
                co_host && state.host_token.is_none(),
                state.ticket.token.clone(),
            )
        };
        if became_co_host {
            match self.shared.client.host_token(&token).await {
                Ok(host) => self.shared.state().host_token = Some(host.token),
                Err(error) => tracing::warn!(%error, "promoted, but no host token"),
            }
        }
        self.emit(MeetingEvent::Roles(roles)).await;
    }

    async fn poll_waiting(&self) {
        let Some(token) = self.shared.state().host_token.clone() else {
            return;
        };
        match self.shared.client.waiting(&token).await {
            Ok(list) => self.emit(MeetingEvent::WaitingList(list)).await,
            Err(error) => tracing::debug!(%error, "waiting list not polled"),
        }
    }

    /// Asks whether we were let in; moves from a lobby room to the meeting's with the ticket
    /// the answer carries.
    async fn knock(&self, events: &mut mpsc::Receiver<RoomEvent>) -> Next {
        if !self.shared.state().waiting {
            return Next::Continue;
        }
        let token = self.shared.state().ticket.token.clone();
        let response = match self.shared.client.knock(&token).await {
            Ok(response) => response,
            Err(error) => {
                tracing::info!(%error, "knock failed; trying again later");
                return Next::Continue;
            }
        };
        match (response.status, response.ticket) {
            (Admission::Waiting, _) | (Admission::Admitted, None) => Next::Continue,
            (Admission::Admitted, Some(ticket)) => match self.move_in(ticket).await {
                Ok(new_events) => {
                    *events = new_events;
                    self.on_admitted().await;
                    Next::Continue
                }
                Err(error) => Next::End(MeetingEnd::ConnectionLost(error.to_string())),
            },
            (Admission::Denied, _) => Next::End(MeetingEnd::Denied),
            (Admission::Ended, _) => Next::End(MeetingEnd::EndedByHost),
        }
    }

    /// Leaves the lobby for the meeting's room.
    async fn move_in(&self, ticket: RoomTicket) -> Result<mpsc::Receiver<RoomEvent>, RoomError> {
        let options = self.shared.options.room.clone();
        let (room, events) = Room::connect(&ticket.server_url, &ticket.token, options).await?;
        let lobby = self.shared.room.write().await.replace(room);
        self.shared.state().ticket = ticket;
        if let Some(lobby) = lobby
            && let Err(error) = lobby.leave().await
        {
            tracing::debug!(%error, "leaving the lobby room");
        }
        Ok(events)
    }

    async fn why_ended(&self, reason: &DisconnectReason) -> MeetingEnd {
        use proto::DisconnectReason as Server;
        match reason {
            DisconnectReason::ClientInitiated => MeetingEnd::Left,
            DisconnectReason::Server(Server::RoomDeleted) => {
                match self.shared.state().ended_because {
                    Some(EndCause::HostsLeft) => MeetingEnd::HostsLeft,
                    _ => MeetingEnd::EndedByHost,
                }
            }
            DisconnectReason::Server(Server::ServerShutdown) => MeetingEnd::HostClosedApp,
            DisconnectReason::Server(Server::DuplicateIdentity) => MeetingEnd::JoinedElsewhere,
            DisconnectReason::Server(Server::ParticipantRemoved) => {
                // A waiting guest that is removed was most likely turned away: ask.
                let (waiting, token) = {
                    let state = self.shared.state();
                    (state.waiting, state.ticket.token.clone())
                };
                let denied = waiting
                    && self
                        .shared
                        .client
                        .knock(&token)
                        .await
                        .is_ok_and(|answer| answer.status == Admission::Denied);
                if denied {
                    MeetingEnd::Denied
                } else {
                    MeetingEnd::Removed
                }
            }
            other => MeetingEnd::ConnectionLost(format!("{other:?}")),
        }
    }
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
