//! The embedded selective forwarding unit that lets a Confab app host a meeting by itself.
//!
//! It owns everything server-side: the LiveKit-compatible signalling endpoint (`/rtc`), token
//! verification and grant enforcement, rooms and participants, media forwarding (str0m,
//! simulcast layer selection), data-packet routing, the Twirp `RoomService` and the conference
//! API. It is used by the desktop app ("Host a meeting") and by the headless `confab server`.
//!
//! So far it holds the server's key configuration; the SFU itself arrives with its own issue.

pub mod api_keys;

pub use api_keys::{ApiKeys, ApiKeysError};
