//! The conference API: meetings by code, the waiting room and the host routes, served under
//! `/api/conference/` by the embedded host (beside its SFU) or by `confab server
//! --livekit-url` in front of a LiveKit deployment. Both run the same [`Conference`]; only the
//! [`RoomControl`] behind it differs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use confab_ipc::MeetingCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::code;
use crate::control::{ControlError, RoomControl};
use crate::error::ApiError;
use crate::limiter::JoinLimiter;
use crate::meeting::{Effect, Meeting, MeetingError};
use crate::models::{
    ADMITTED_TOPIC, Admission, AdmitResponse, CreateRequest, CreateResponse, EndCause,
    GeneratedCode, GuestRequest, HostToken, JoinRequest, KnockResponse, MeetingSettings,
    PromoteRequest, Role, RoomTicket, SettingsChange, WAITING_TOPIC, WaitingList,
};
use crate::tokens::{Caller, Signer, Standing, TokenError, bearer};

/// Where the API's routes live.
pub const PREFIX: &str = "/api/conference";
/// Request bodies are small JSON objects.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// How often hosts' presence and departed guests are checked.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);
/// Display names are cut to this many characters.
const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone)]
pub struct ConferenceConfig {
    pub signer: Signer,
    /// Where participants' clients connect for the room (a LiveKit deployment's URL). None:
    /// this server itself, at the address the request came to (the embedded host).
    pub room_server_url: Option<String>,
    /// How invitations name this server (`host:port`, or a URL). None: the request's Host.
    pub public_address: Option<String>,
    pub waiting_place: WaitingPlace,
    /// A meeting whose hosts have all been gone this long ends
    /// ([`crate::meeting::HOSTLESS_GRACE`] by default).
    pub hostless_grace: Duration,
}

/// Where guests wait for a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingPlace {
    /// In the meeting's room with no permissions (Confab's SFU shows such a participant
    /// nobody and forwards it nothing); admission changes its permissions in place, so it
    /// sees `ParticipantPermissionsChanged`.
    InRoom,
    /// In a room of their own next to the meeting's (`<room>-lobby`): livekit-server sends
    /// every participant the participant list and broadcast data whatever its permissions, so
    /// a guest in the meeting's room would see names and chat before being let in. Admission
    /// hands the guest a ticket for the meeting's room.
    LobbyRoom,
}

/// The room guests of `room` wait in when they wait in a [`WaitingPlace::LobbyRoom`].
pub fn lobby_room(room: &str) -> String {
    format!("{room}-lobby")
}

/// A meeting that is open, for LAN discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMeeting {
    pub code: MeetingCode,
    pub title: String,
    pub listed: bool,
}

#[derive(Debug, Default)]
struct Registry {
    meetings: HashMap<MeetingCode, Meeting>,
    /// Meeting rooms and lobby rooms to their meeting's code.
    rooms: HashMap<String, MeetingCode>,
    limiter: JoinLimiter,
}

impl Registry {
    fn by_room(&mut self, room: &str) -> Option<&mut Meeting> {
        let code = self.rooms.get(room)?;
        self.meetings.get_mut(code)
    }

    /// Forgets the meeting whose room (or lobby room) is `room`.
    fn remove(&mut self, room: &str) {
        if let Some(code) = self.rooms.get(room).cloned() {
            self.meetings.remove(&code);
            self.rooms.retain(|_, of| *of != code);
        }
    }

    /// The meetings' own rooms (not their lobbies).
    fn meeting_rooms(&self) -> Vec<String> {
        self.meetings
            .values()
            .map(|meeting| meeting.room().to_owned())
            .collect()
    }

    fn open_meetings(&self) -> Vec<OpenMeeting> {
        let mut open: Vec<OpenMeeting> = self
            .meetings
            .values()
            .filter(|meeting| !meeting.is_ended())
            .map(|meeting| OpenMeeting {
                code: meeting.code().clone(),
                title: meeting.title().to_owned(),
                listed: meeting.listed(),
            })
            .collect();
        open.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
        open
    }
}

/// How the request reached us: the base for server URLs and invitations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `host[:port]` from the Host header.
    pub host: String,
}

/// The meetings of one server and everything the API does with them.
#[derive(Debug)]
pub struct Conference<C> {
    control: C,
    config: ConferenceConfig,
    registry: Mutex<Registry>,
    open: watch::Sender<Vec<OpenMeeting>>,
}

/// What a host route found: the meeting's room and who hosts it.
struct HostScope {
    room: String,
    hosts: Vec<String>,
}

impl<C: RoomControl> Conference<C> {
    pub fn new(control: C, config: ConferenceConfig) -> Self {
        Self {
            control,
            config,
            registry: Mutex::new(Registry::default()),
            open: watch::Sender::new(Vec::new()),
        }
    }

    pub fn control(&self) -> &C {
        &self.control
    }

    /// The open meetings, updated whenever one opens or ends (drives the mDNS advertiser).
    pub fn open_meetings(&self) -> watch::Receiver<Vec<OpenMeeting>> {
        self.open.subscribe()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_open(&self) {
        let open = self.registry().open_meetings();
        self.open.send_if_modified(|current| {
            let changed = *current != open;
            *current = open;
            changed
        });
    }

    fn server_url(&self, origin: &Origin) -> String {
        self.config
            .room_server_url
            .clone()
            .unwrap_or_else(|| format!("ws://{}", origin.host))
    }

    fn invite(&self, code: &MeetingCode, origin: &Origin) -> String {
        let host = self
            .config
            .public_address
            .clone()
            .unwrap_or_else(|| origin.host.clone());
        format!("confab://join/{code}?host={host}")
    }

    /// The room a participant with `standing` enters: the meeting's, or its lobby.
    fn room_for(&self, meeting: &Meeting, standing: Standing) -> String {
        match (standing, self.config.waiting_place) {
            (Standing::Waiting, WaitingPlace::LobbyRoom) => lobby_room(meeting.room()),
            _ => meeting.room().to_owned(),
        }
    }

    fn ticket(
        &self,
        meeting: &Meeting,
        identity: &str,
        name: &str,
        role: Role,
        standing: Standing,
        origin: &Origin,
    ) -> Result<RoomTicket, ApiError> {
        let room = self.room_for(meeting, standing);
        let token = self
            .config
            .signer
            .participant_token(&room, identity, name, role, standing)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        Ok(RoomTicket {
            code: meeting.code().clone(),
            room,
            server_url: self.server_url(origin),
            token,
            identity: identity.to_owned(),
            role,
            title: meeting.title().to_owned(),
            waiting: standing == Standing::Waiting,
        })
    }

    /// Verifies a bearer token signed with this server's key.
    pub fn caller(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        Ok(self.config.signer.verify(bearer(authorization)?)?)
    }

    fn require_creator(caller: &Caller) -> Result<(), ApiError> {
        if caller.room_create {
            Ok(())
        } else {
            Err(TokenError::MissingGrant("roomCreate").into())
        }
    }

    fn unused_code(&self) -> MeetingCode {
        let mut rng = rand::rng();
        loop {
            let candidate = code::generate(&mut rng);
            if !self.registry().meetings.contains_key(&candidate) {
                return candidate;
            }
        }
    }

    pub fn generate_code(&self, caller: &Caller) -> Result<GeneratedCode, ApiError> {
        Self::require_creator(caller)?;
        Ok(GeneratedCode {
            code: self.unused_code(),
        })
    }

    pub async fn create(
        &self,
        caller: &Caller,
        request: CreateRequest,
        origin: &Origin,
    ) -> Result<CreateResponse, ApiError> {
        Self::require_creator(caller)?;
        let code = match request.code {
            Some(code) if self.registry().meetings.contains_key(&code) => {
                return Err(ApiError::InvalidRequest(format!(
                    "The code {code} is already in use; generate another"
                )));
            }
            Some(code) => code,
            None => self.unused_code(),
        };
        let room = format!("confab-{}", code::random_hex(8));
        let host = format!("host-{}", code::random_hex(6));
        let host_name = display_name(&request.host_name, "Host");
        let meeting = Meeting::new(
            code.clone(),
            room.clone(),
            display_name(&request.title, ""),
            host.clone(),
            MeetingSettings {
                waiting_room: request.waiting_room,
                locked: false,
            },
            request.listed,
        );
        self.control
            .create_room(&room, &meeting.roles().to_room_metadata())
            .await?;
        let lobby =
            (self.config.waiting_place == WaitingPlace::LobbyRoom).then(|| lobby_room(&room));
        if let Some(lobby) = &lobby {
            self.control.create_room(lobby, "").await?;
        }
        let ticket = self.ticket(
            &meeting,
            &host,
            &host_name,
            Role::Host,
            Standing::Member,
            origin,
        )?;
        {
            let mut registry = self.registry();
            if registry.meetings.contains_key(&code) {
                return Err(ApiError::InvalidRequest(format!(
                    "The code {code} is already in use; generate another"
                )));
            }
            registry.rooms.insert(room.clone(), code.clone());
            registry
                .rooms
                .extend(lobby.map(|lobby| (lobby, code.clone())));
            registry.meetings.insert(code.clone(), meeting);
        }
        self.publish_open();
        tracing::info!(%room, "meeting created");
        Ok(CreateResponse {
            invite: self.invite(&code, origin),
            ticket,
        })
    }

    /// A guest asks to join by code, from `address`.
    pub fn join(
        &self,
        address: IpAddr,
        request: &JoinRequest,
        origin: &Origin,
    ) -> Result<RoomTicket, ApiError> {
        let now = Instant::now();
        let mut registry = self.registry();
        if let Err(retry) = registry.limiter.check(address, now) {
            tracing::info!(%address, "join refused: too many wrong codes");
            return Err(ApiError::RateLimited(retry.0));
        }
        let code = MeetingCode::parse(&request.code).ok();
        let Some(meeting) = code.and_then(|code| registry.meetings.get_mut(&code)) else {
            registry.limiter.record_failure(address, now);
            return Err(ApiError::NoSuchMeeting);
        };
        let identity = format!("guest-{}", code::random_hex(6));
        let name = display_name(&request.name, "Guest");
        let waits = meeting.add_guest(&identity, &name, now)?;
        let standing = if waits {
            Standing::Waiting
        } else {
            Standing::Member
        };
        self.ticket(meeting, &identity, &name, Role::Guest, standing, origin)
    }

    /// A waiting guest says it is still there; the answer says whether it was let in (with
    /// its ticket for the meeting's room when it waited in a lobby room).
    pub async fn knock(&self, caller: &Caller, origin: &Origin) -> Result<KnockResponse, ApiError> {
        let (response, effects, room, hosts) = {
            let mut registry = self.registry();
            let Some(meeting) = registry.by_room(&caller.room) else {
                return Ok(KnockResponse {
                    status: Admission::Ended,
                    ticket: None,
                });
            };
            let (status, mut effects) = meeting.knock(&caller.identity, Instant::now())?;
            let in_lobby = caller.room != meeting.room();
            let ticket = if status == Admission::Admitted && in_lobby {
                // The ticket is the admission: nothing to change in the lobby.
                effects.retain(|effect| !matches!(effect, Effect::Grant { .. }));
                meeting.confirm_granted(&caller.identity);
                let name = meeting.name_of(&caller.identity).unwrap_or_default();
                Some(self.ticket(
                    meeting,
                    &caller.identity,
                    &name,
                    Role::Guest,
                    Standing::Member,
                    origin,
                )?)
            } else {
                None
            };
            (
                KnockResponse { status, ticket },
                effects,
                meeting.room().to_owned(),
                meeting.hosts(),
            )
        };
        self.apply(&room, &hosts, effects).await?;
        Ok(response)
    }

    fn host_scope(&self, caller: &Caller) -> Result<HostScope, ApiError> {
        let mut registry = self.registry();
        let meeting = registry
            .by_room(&caller.room)
            .ok_or(ApiError::NotFound("This meeting has ended".into()))?;
        let is_host =
            caller.room_admin && meeting.role_of(&caller.identity).is_some_and(Role::is_host);
        if !is_host {
            return Err(ApiError::Forbidden(
                "Only the meeting's hosts may do this".into(),
            ));
        }
        Ok(HostScope {
            room: meeting.room().to_owned(),
            hosts: meeting.hosts(),
        })
    }

    /// Runs `operation` on the caller's meeting if the caller hosts it, then carries out the
    /// effects.
    async fn as_host<T>(
        &self,
        caller: &Caller,
        operation: impl FnOnce(&mut Meeting, Instant) -> Result<(T, Vec<Effect>), MeetingError>,
    ) -> Result<T, ApiError> {
        let scope = self.host_scope(caller)?;
        let (value, effects) = {
            let mut registry = self.registry();
            let meeting = registry
                .by_room(&scope.room)
                .ok_or(ApiError::NotFound("This meeting has ended".into()))?;
            operation(meeting, Instant::now())?
        };
        self.apply(&scope.room, &scope.hosts, effects).await?;
        Ok(value)
    }

    pub fn waiting(&self, caller: &Caller) -> Result<WaitingList, ApiError> {
        let scope = self.host_scope(caller)?;
        let mut registry = self.registry();
        let meeting = registry
            .by_room(&scope.room)
            .ok_or(ApiError::NotFound("This meeting has ended".into()))?;
        Ok(meeting.waiting_list(Instant::now()))
    }

    pub async fn admit(
        &self,
        caller: &Caller,
        request: &GuestRequest,
    ) -> Result<AdmitResponse, ApiError> {
        let identity = admitted_guest(request)?;
        self.as_host(caller, |meeting, now| {
            let Some(identity) = identity else {
                let (admitted, effects) = meeting.admit_all(now);
                return Ok((AdmitResponse { admitted }, effects));
            };
            let effects = meeting.admit(identity, now)?;
            Ok((
                AdmitResponse {
                    admitted: vec![identity.to_owned()],
                },
                effects,
            ))
        })
        .await
    }

    pub async fn deny(&self, caller: &Caller, request: &GuestRequest) -> Result<(), ApiError> {
        let Some(identity) = request.identity.as_deref() else {
            return Err(ApiError::InvalidRequest("name the guest (identity)".into()));
        };
        self.as_host(caller, |meeting, now| {
            Ok(((), meeting.deny(identity, now)?))
        })
        .await
    }

    pub async fn change_settings(
        &self,
        caller: &Caller,
        change: SettingsChange,
    ) -> Result<WaitingList, ApiError> {
        self.as_host(caller, |meeting, now| {
            let effects = meeting.change_settings(change, now);
            Ok((meeting.waiting_list(now), effects))
        })
        .await
    }

    pub async fn promote(&self, caller: &Caller, request: &PromoteRequest) -> Result<(), ApiError> {
        self.as_host(caller, |meeting, _| {
            Ok(((), meeting.promote(&request.identity)?))
        })
        .await
    }

    /// A co-host exchanges its participant token for one with the host's rights.
    pub fn host_token(&self, caller: &Caller) -> Result<HostToken, ApiError> {
        let mut registry = self.registry();
        let meeting = registry
            .by_room(&caller.room)
            .ok_or(ApiError::NotFound("This meeting has ended".into()))?;
        let role = meeting.role_of(&caller.identity);
        if !role.is_some_and(Role::is_host) {
            return Err(ApiError::Forbidden(
                "Only a co-host may ask for this".into(),
            ));
        }
        let token = self
            .config
            .signer
            .participant_token(
                meeting.room(),
                &caller.identity,
                // The name is the participant's own in the room; the token only needs to admit it.
                "",
                role.unwrap_or(Role::CoHost),
                Standing::Member,
            )
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        Ok(HostToken { token })
    }

    /// Ends the meeting for everyone.
    pub async fn end(&self, caller: &Caller) -> Result<(), ApiError> {
        self.as_host(caller, |meeting, _| {
            Ok(((), meeting.end(EndCause::EndedByHost)))
        })
        .await
    }

    /// Checks every meeting's hosts and room, forgets departed guests and ends meetings whose
    /// hosts are gone. Called every [`WATCH_EVERY`].
    pub async fn watch_once(&self) {
        let rooms: Vec<String> = {
            let mut registry = self.registry();
            let now = Instant::now();
            registry.limiter.forget_full(now);
            for meeting in registry.meetings.values_mut() {
                meeting.forget_departed(now);
            }
            registry.meeting_rooms()
        };
        for room in rooms {
            let present = match self.control.participants(&room).await {
                Ok(present) => present,
                Err(ControlError::RoomNotFound) => {
                    tracing::info!(%room, "meeting over: its room is gone");
                    self.registry().remove(&room);
                    self.publish_open();
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%room, %error, "cannot check the meeting's hosts");
                    continue;
                }
            };
            let (effects, hosts) = {
                let mut registry = self.registry();
                let Some(meeting) = registry.by_room(&room) else {
                    continue;
                };
                let grace = self.config.hostless_grace;
                (
                    meeting.observe_hosts(&present, Instant::now(), grace),
                    meeting.hosts(),
                )
            };
            if !effects.is_empty() {
                tracing::info!(%room, "meeting over: its hosts left");
            }
            if let Err(error) = self.apply(&room, &hosts, effects).await {
                tracing::warn!(%room, %error, "ending a hostless meeting failed");
            }
        }
    }

    /// Carries out what the meeting decided. `room` is the meeting's own room.
    async fn apply(
        &self,
        room: &str,
        hosts: &[String],
        effects: Vec<Effect>,
    ) -> Result<(), ApiError> {
        let lobby = lobby_room(room);
        let lobby_mode = self.config.waiting_place == WaitingPlace::LobbyRoom;
        for effect in effects {
            match effect {
                Effect::Grant { identity } if lobby_mode => {
                    // Wakes the guest, which knocks at once and gets its ticket.
                    if let Err(error) = self
                        .control
                        .send_data(&lobby, ADMITTED_TOPIC, Vec::new(), vec![identity])
                        .await
                    {
                        tracing::info!(%room, %error, "admitted guest not woken; it will knock");
                    }
                }
                Effect::Grant { identity } => {
                    let granted = self
                        .control
                        .update_participant(
                            room,
                            &identity,
                            Some(Standing::Member.permission()),
                            HashMap::new(),
                        )
                        .await;
                    match granted {
                        Ok(()) => {
                            if let Some(meeting) = self.registry().by_room(room) {
                                meeting.confirm_granted(&identity);
                            }
                        }
                        // Not connected yet: its next knock grants again.
                        Err(ControlError::ParticipantNotFound) => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                Effect::Remove { identity } => {
                    let from = if lobby_mode { lobby.as_str() } else { room };
                    match self.control.remove_participant(from, &identity).await {
                        Ok(()) | Err(ControlError::ParticipantNotFound) => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                Effect::NotifyHosts(list) => {
                    let payload = serde_json::to_vec(&list)
                        .map_err(|error| ApiError::Internal(error.to_string()))?;
                    // Hosts poll too: a lost notification only delays them.
                    if let Err(error) = self
                        .control
                        .send_data(room, WAITING_TOPIC, payload, hosts.to_vec())
                        .await
                    {
                        tracing::info!(%room, %error, "hosts not notified of the waiting room");
                    }
                }
                Effect::PublishRoles(roles) => {
                    self.control
                        .update_room_metadata(room, &roles.to_room_metadata())
                        .await?;
                }
                Effect::End(cause) => {
                    let roles = self.registry().by_room(room).map(|meeting| meeting.roles());
                    self.registry().remove(room);
                    self.publish_open();
                    // Why, ahead of the leave on the same signalling connection.
                    if let Some(mut roles) = roles {
                        roles.ended = Some(cause);
                        let said = self
                            .control
                            .update_room_metadata(room, &roles.to_room_metadata())
                            .await;
                        if let Err(error) = said {
                            tracing::info!(%room, %error, "the end's cause not published");
                        }
                    }
                    let rooms = std::iter::once(room).chain(lobby_mode.then_some(lobby.as_str()));
                    for ended in rooms {
                        match self.control.delete_room(ended).await {
                            Ok(()) | Err(ControlError::RoomNotFound) => {}
                            Err(error) => return Err(error.into()),
                        }
                    }
                    tracing::info!(%room, "meeting ended");
                }
            }
        }
        Ok(())
    }
}

/// The one guest an admission names, or None for everyone waiting.
fn admitted_guest(request: &GuestRequest) -> Result<Option<&str>, ApiError> {
    match (request.identity.as_deref(), request.all) {
        (Some(_), true) => Err(ApiError::InvalidRequest(
            "name one guest or ask for all, not both".into(),
        )),
        (Some(identity), false) => Ok(Some(identity)),
        (None, true) => Ok(None),
        (None, false) => Err(ApiError::InvalidRequest("name the guest (identity)".into())),
    }
}

/// A name as people typed it, without control characters, at most 64 characters.
pub fn display_name(raw: &str, fallback: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        fallback.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Runs [`Conference::watch_once`] every [`WATCH_EVERY`] until the conference is dropped.
pub fn spawn_watch<C: RoomControl>(conference: &Arc<Conference<C>>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(conference);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(conference) = weak.upgrade() else {
                return;
            };
            conference.watch_once().await;
        }
    })
}

// ---- HTTP ----

/// The API's routes (CORS-open: browsers call it with bearer tokens, never cookies). The
/// server must be run with `into_make_service_with_connect_info::<SocketAddr>()`: joins are
/// limited per client address.
pub fn router<C: RoomControl>(conference: Arc<Conference<C>>) -> Router {
    routes::<C>()
        .into_iter()
        .fold(Router::new(), |router, (name, method)| {
            router.route(&format!("{PREFIX}/{name}"), method.options(preflight))
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(conference)
}

/// Every route under [`PREFIX`] and its handler (docs/openapi.yaml lists the same).
fn routes<C: RoomControl>() -> Vec<(&'static str, MethodRouter<Arc<Conference<C>>>)> {
    vec![
        ("create", post(create::<C>)),
        ("generate-code", post(generate_code::<C>)),
        ("join", post(join::<C>)),
        ("knock", post(knock::<C>)),
        ("waiting", get(waiting::<C>)),
        ("admit", post(admit::<C>)),
        ("deny", post(deny::<C>)),
        ("settings", post(settings::<C>)),
        ("promote", post(promote::<C>)),
        ("host-token", post(host_token::<C>)),
        ("end", post(end::<C>)),
    ]
}

type Shared<C> = State<Arc<Conference<C>>>;

async fn create<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap, body: Bytes) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        let request: CreateRequest = parse(&body)?;
        c.create(&caller, request, &origin(&headers)?).await
    })
    .await
}

async fn generate_code<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap) -> Response {
    respond(async { c.generate_code(&c.caller(authorization(&headers))?) }).await
}

async fn join<C: RoomControl>(
    State(c): Shared<C>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(async {
        let request: JoinRequest = parse(&body)?;
        c.join(peer.ip(), &request, &origin(&headers)?)
    })
    .await
}

async fn knock<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.knock(&caller, &origin(&headers)?).await
    })
    .await
}

async fn waiting<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap) -> Response {
    respond(async { c.waiting(&c.caller(authorization(&headers))?) }).await
}

async fn admit<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap, body: Bytes) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.admit(&caller, &parse(&body)?).await
    })
    .await
}

async fn deny<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap, body: Bytes) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.deny(&caller, &parse(&body)?).await.map(|()| Empty {})
    })
    .await
}

async fn settings<C: RoomControl>(
    State(c): Shared<C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.change_settings(&caller, parse(&body)?).await
    })
    .await
}

async fn promote<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap, body: Bytes) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.promote(&caller, &parse(&body)?).await.map(|()| Empty {})
    })
    .await
}

async fn host_token<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap) -> Response {
    respond(async { c.host_token(&c.caller(authorization(&headers))?) }).await
}

async fn end<C: RoomControl>(State(c): Shared<C>, headers: HeaderMap) -> Response {
    respond(async {
        let caller = c.caller(authorization(&headers))?;
        c.end(&caller).await.map(|()| Empty {})
    })
    .await
}

#[derive(Debug, Serialize)]
struct Empty {}

async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
    allow_any_origin(response)
}

fn allow_any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn respond<T: Serialize>(outcome: impl Future<Output = Result<T, ApiError>>) -> Response {
    let response = match outcome.await {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(error) => {
            tracing::info!(kind = error.kind(), %error, "conference request refused");
            error.into_response()
        }
    };
    allow_any_origin(response)
}

pub(crate) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::InvalidRequest(format!("invalid request body: {error}")))
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

fn origin(headers: &HeaderMap) -> Result<Origin, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| is_host_header(host))
        .ok_or_else(|| ApiError::InvalidRequest("missing or invalid Host header".into()))?;
    Ok(Origin {
        host: host.to_owned(),
    })
}

/// A Host header that can go into a URL as it is (no scheme, path or spaces).
fn is_host_header(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ControlError;

    /// A room server that is never called: the route table is all these tests read.
    struct NoRooms;

    impl RoomControl for NoRooms {
        async fn create_room(&self, _: &str, _: &str) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn update_room_metadata(&self, _: &str, _: &str) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn update_participant(
            &self,
            _: &str,
            _: &str,
            _: Option<livekit_protocol::ParticipantPermission>,
            _: HashMap<String, String>,
        ) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn remove_participant(&self, _: &str, _: &str) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn send_data(
            &self,
            _: &str,
            _: &str,
            _: Vec<u8>,
            _: Vec<String>,
        ) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn delete_room(&self, _: &str) -> Result<(), ControlError> {
            Err(ControlError::RoomNotFound)
        }
        async fn participants(&self, _: &str) -> Result<Vec<String>, ControlError> {
            Err(ControlError::RoomNotFound)
        }
    }

    #[test]
    fn the_openapi_file_describes_exactly_the_routes_served() {
        let spec = include_str!("../../../docs/openapi.yaml");
        let mut documented: Vec<&str> = spec
            .lines()
            .filter_map(|line| line.strip_prefix("  /api/conference/"))
            .filter_map(|rest| rest.strip_suffix(':'))
            .collect();
        let mut served: Vec<&str> = routes::<NoRooms>()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        documented.sort_unstable();
        served.sort_unstable();
        assert_eq!(documented, served);
        assert_eq!(format!("{PREFIX}/"), "/api/conference/");
    }

    #[test]
    fn display_names_are_cleaned_and_cut() {
        assert_eq!(display_name("  Bob \u{7}\n", "Guest"), "Bob");
        assert_eq!(display_name("\u{1b}[31m", "Guest"), "[31m");
        assert_eq!(display_name("   ", "Guest"), "Guest");
        assert_eq!(
            display_name(&"x".repeat(500), "Guest").len(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn host_headers_with_url_syntax_are_refused() {
        assert!(is_host_header("192.168.1.5:7880"));
        assert!(is_host_header("[::1]:7880"));
        assert!(!is_host_header("evil.example/path"));
        assert!(!is_host_header("a b"));
        assert!(!is_host_header(""));
    }
}
