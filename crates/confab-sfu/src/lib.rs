//! The embedded selective forwarding unit that lets a Confab app host a meeting by itself.
//!
//! It owns everything server-side: the LiveKit-compatible signalling endpoint (`/rtc`), token
//! verification and grant enforcement, rooms and participants, media forwarding (str0m,
//! simulcast layer selection), data-packet routing, the Twirp `RoomService` and the conference
//! API. It is used by the desktop app ("Host a meeting") and by the headless `confab server`.
//!
//! Layers: [`room`] is the sans-IO signalling state of one room; [`hub`] holds the live rooms
//! and delivers their messages; [`session`] is one participant's WebSocket; [`http`] routes
//! requests after [`auth`] verified them; [`server`] binds and shuts down.
//!
//! Implemented so far: signalling (join, participant updates, ping, metadata, leave with
//! reasons, duplicate identities, resume refusal, shutdown) and the RoomService calls that need
//! no media ([`twirp`]). Media negotiation, data packets and the media-dependent RoomService
//! calls are the next steps of the SFU issue.

pub mod api_keys;
pub mod auth;
pub mod data;
pub mod http;
pub mod hub;
pub mod ids;
pub mod media;
pub mod room;
pub mod server;
pub mod session;
pub mod twirp;

pub use api_keys::{ApiKeys, ApiKeysError};
pub use media::MediaConfig;
pub use server::{RunningSfu, SfuConfig, SfuError, start};
