//! The media plane: WebRTC peer connections (str0m) for every participant and the forwarding
//! of media and data between them.
//!
//! [`forwarder`] is the sans-IO core; [`sockets`] binds the UDP port and feeds it; [`layers`]
//! picks simulcast layers per subscriber; [`dynacast`] tells publishers which layers anyone
//! receives; [`speakers`] finds who is talking; [`quality`] rates connections; [`transport`]
//! wraps one str0m connection.

pub mod codec_preference;
pub mod dynacast;
pub mod forwarder;
pub mod layers;
pub mod quality;
pub mod sockets;
pub mod speakers;
pub mod transport;

pub use forwarder::{Forwarder, MediaEvent, PeerProfile};
pub use sockets::{MediaConfig, MediaSockets};
