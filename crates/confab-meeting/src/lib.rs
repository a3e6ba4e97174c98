//! Meetings from the participant's side, for the desktop app and `confab join`: the
//! conference API client ([`client`]), invitation links (`confab_ipc::Invite`), and [`session`] — a
//! meeting entered as host or guest, with its waiting room, admission, chat history, files,
//! raised hands, reactions and host controls, on top of `confab-rtc`'s `Room`.

pub mod chat;
pub mod client;

pub mod presence;
pub mod session;

pub use client::{ClientError, ConferenceClient};
pub use confab_ipc::{Invite, InviteError};
pub use session::{Meeting, MeetingEnd, MeetingError, MeetingEvent, MeetingOptions};
