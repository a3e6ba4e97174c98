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
//! The conference API (`/api/conference/*`: meetings by code, waiting room, host controls)
//! comes from `confab-conference`; [`conference`] runs it on the hub in-process.

pub mod api_keys;
pub mod auth;
pub mod conference;
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
pub use server::{ConferenceSettings, EmbeddedConference, RunningSfu, SfuConfig, SfuError, start};
