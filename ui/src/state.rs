//! What the UI shows of the meeting: signals filled from the shell's update stream, shared
//! through context. Components read them and send intents through the backend; nothing here
//! touches media.

use confab_ipc::MeetingCode;
use confab_ipc::meeting::{
    ChatLine, FrameChannel, JoinArgs, MediaChoice, MeetingInfo, MeetingUpdate, ParticipantView,
    TransferView, WaitingGuestView,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::ipc::Backend;

/// Which screen is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Home,
    /// Devices, microphone processing, camera quality.
    Settings,
    /// Waiting for a host to let us in.
    Waiting,
    Meeting,
    /// The meeting is over for us; why.
    Ended(String),
}

/// How the stage arranges the tiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// Everyone the same size.
    #[default]
    Grid,
    /// One person large (pinned, sharing, or speaking last), the others in a strip.
    Speaker,
}

/// Who waits, and the meeting's switches (hosts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitingRoomView {
    pub guests: Vec<WaitingGuestView>,
    pub locked: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct MeetingState {
    pub screen: RwSignal<Screen>,
    pub info: RwSignal<Option<MeetingInfo>>,
    pub participants: RwSignal<Vec<ParticipantView>>,
    pub chat: RwSignal<Vec<ChatLine>>,
    /// Files in and out, in the order they started (each at its latest state).
    pub transfers: RwSignal<Vec<TransferView>>,
    pub waiting_room: RwSignal<WaitingRoomView>,
    pub reconnecting: RwSignal<bool>,
    pub frames: RwSignal<Option<FrameChannel>>,
    pub chat_open: RwSignal<bool>,
    pub people_open: RwSignal<bool>,
    pub layout: RwSignal<Layout>,
    /// Who the user pinned to the large tile.
    pub pinned: RwSignal<Option<String>>,
    /// The other person who spoke last.
    pub last_speaker: RwSignal<Option<String>>,
    /// An invitation link opened with the app, for the join form to take.
    pub invite: RwSignal<Option<String>>,
}

impl MeetingState {
    pub fn new() -> Self {
        Self {
            screen: RwSignal::new(Screen::Home),
            info: RwSignal::new(None),
            participants: RwSignal::new(Vec::new()),
            chat: RwSignal::new(Vec::new()),
            transfers: RwSignal::new(Vec::new()),
            waiting_room: RwSignal::new(WaitingRoomView::default()),
            reconnecting: RwSignal::new(false),
            frames: RwSignal::new(None),
            chat_open: RwSignal::new(false),
            people_open: RwSignal::new(false),
            layout: RwSignal::new(Layout::default()),
            pinned: RwSignal::new(None),
            last_speaker: RwSignal::new(None),
            invite: RwSignal::new(None),
        }
    }

    /// We are in (or waiting for) `info`'s meeting: clear what a previous one left and
    /// follow this one's updates.
    pub fn enter(&self, backend: Backend, info: MeetingInfo) {
        self.participants.set(Vec::new());
        self.chat.set(Vec::new());
        self.transfers.set(Vec::new());
        self.waiting_room.set(WaitingRoomView::default());
        self.reconnecting.set(false);
        self.pinned.set(None);
        self.last_speaker.set(None);
        self.screen.set(if info.waiting {
            Screen::Waiting
        } else {
            Screen::Meeting
        });
        self.info.set(Some(info));
        let state = *self;
        spawn_local(async move {
            if let Ok(channel) = backend.frame_channel().await {
                state.frames.set(Some(channel));
            }
            state.follow(backend).await;
        });
    }

    /// Joins the meeting `code` at `host` (one listed on the LAN, or joined lately) as `name`
    /// and enters it; a refusal's message goes to `refused`.
    pub fn join_at(
        self,
        backend: Backend,
        code: MeetingCode,
        host: String,
        name: String,
        media: MediaChoice,
        refused: WriteSignal<Option<String>>,
    ) {
        let args = JoinArgs {
            code,
            host: Some(host),
            name: name.trim().to_owned(),
            media,
        };
        spawn_local(async move {
            match backend.join_meeting(args).await {
                Ok(info) => self.enter(backend, info),
                Err(error) => refused.set(Some(error.message)),
            }
        });
    }

    /// Takes each invitation link the app is opened with, for the join form (it waits there
    /// while a meeting is on).
    pub fn follow_invites(&self, backend: Backend) {
        let invite = self.invite;
        spawn_local(async move {
            while let Ok(link) = backend.next_invite().await {
                invite.set(Some(link));
            }
        });
    }

    /// Applies the shell's updates until the meeting ends for us.
    async fn follow(self, backend: Backend) {
        let mut next = 0;
        loop {
            let batch = match backend.meeting_updates(next).await {
                Ok(batch) => batch,
                Err(error) => {
                    self.screen.set(Screen::Ended(error.message));
                    return;
                }
            };
            next = batch.next;
            for update in batch.updates {
                if self.apply(update) {
                    return;
                }
            }
        }
    }

    /// Shows one update; true when it ended the meeting.
    pub fn apply(&self, update: MeetingUpdate) -> bool {
        match update {
            MeetingUpdate::Waiting => self.screen.set(Screen::Waiting),
            MeetingUpdate::Admitted => {
                self.info.update(|info| {
                    if let Some(info) = info {
                        info.waiting = false;
                    }
                });
                self.screen.set(Screen::Meeting);
            }
            MeetingUpdate::Participants { participants } => {
                if let Some(speaker) = participants.iter().find(|p| p.speaking && !p.is_local) {
                    self.last_speaker.set(Some(speaker.identity.clone()));
                }
                self.participants.set(participants);
            }
            MeetingUpdate::Chat { line } => self.chat.update(|chat| {
                if !chat.iter().any(|known| known.id == line.id) {
                    chat.push(line);
                }
            }),
            MeetingUpdate::Transfer { transfer } => self.transfers.update(|transfers| {
                match transfers.iter_mut().find(|known| known.id == transfer.id) {
                    Some(known) => *known = transfer,
                    None => transfers.push(transfer),
                }
            }),
            MeetingUpdate::WaitingRoom { guests, locked, .. } => {
                self.waiting_room.set(WaitingRoomView { guests, locked });
            }
            MeetingUpdate::Reconnecting { reconnecting } => self.reconnecting.set(reconnecting),
            MeetingUpdate::Ended { message } => {
                self.screen.set(Screen::Ended(message));
                return true;
            }
        }
        false
    }

    pub fn is_host(&self) -> bool {
        self.info
            .with(|info| info.as_ref().is_some_and(|info| info.is_host))
    }

    /// Who the large tile shows in the speaker layout: the pinned person, else someone
    /// sharing a screen, else whoever else spoke last, else the first other person, else us.
    pub fn focus(&self) -> Option<String> {
        let pinned = self.pinned.get();
        let last_speaker = self.last_speaker.get();
        self.participants.with(|people| {
            let present = |id: &Option<String>| {
                id.as_ref()
                    .filter(|id| people.iter().any(|p| &p.identity == *id))
                    .cloned()
            };
            present(&pinned)
                .or_else(|| {
                    people
                        .iter()
                        .find(|p| p.screen.is_some())
                        .map(|p| p.identity.clone())
                })
                .or_else(|| present(&last_speaker))
                .or_else(|| {
                    people
                        .iter()
                        .find(|p| !p.is_local)
                        .map(|p| p.identity.clone())
                })
                .or_else(|| people.first().map(|p| p.identity.clone()))
        })
    }

    /// Pins `identity` to the large tile (showing the speaker layout), or unpins them.
    pub fn toggle_pin(&self, identity: &str) {
        if self.pinned.get_untracked().as_deref() == Some(identity) {
            self.pinned.set(None);
        } else {
            self.pinned.set(Some(identity.to_owned()));
            self.layout.set(Layout::Speaker);
        }
    }

    /// Our own tile's state.
    pub fn me(&self) -> Option<ParticipantView> {
        self.participants
            .with(|participants| participants.iter().find(|p| p.is_local).cloned())
    }
}

impl Default for MeetingState {
    fn default() -> Self {
        Self::new()
    }
}

pub fn use_meeting() -> MeetingState {
    use_context::<MeetingState>().unwrap_or_default()
}
