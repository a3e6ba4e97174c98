//! Meetings on top of LiveKit rooms: codes people read aloud, a waiting room, hosts who admit,
//! deny, lock, promote and end — the conference API (`/api/conference/*`), served the same way
//! by the embedded host and by `confab server --livekit-url` in front of a LiveKit deployment.
//!
//! Layers: [`models`] is the wire contract; [`meeting`] the sans-IO rules of one meeting and
//! [`limiter`] the sans-IO guard against guessed codes; [`service`] runs them over HTTP and
//! carries out their effects through a [`control::RoomControl`] — the embedded SFU's hub, or
//! [`twirp::TwirpRooms`] for LiveKit; [`tokens`] signs and verifies the LiveKit access tokens;
//! [`code`] makes codes and their LAN-discovery hashes.

pub mod code;
pub mod control;
pub mod error;
pub mod limiter;
pub mod meeting;
pub mod models;
pub mod server;
pub mod service;
pub mod tokens;
pub mod twirp;

pub use control::{ControlError, RoomControl};
pub use error::ApiError;
pub use service::{Conference, ConferenceConfig, OpenMeeting, WaitingPlace, router, spawn_watch};
pub use tokens::{Signer, Standing};
