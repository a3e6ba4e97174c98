//! The client engine shared by the desktop app and `confab join`.
//!
//! It owns the connection to a LiveKit-compatible server (ours or a real `livekit-server`):
//! signalling, the publisher and subscriber WebRTC transports (str0m), publishing and
//! subscribing encoded media, data packets, byte and text streams, RPC, and reconnection. It
//! takes encoded frames from `confab-media` and hands encoded frames back; it owns no devices.
//! Its state machines are sans-IO: time and packets are inputs.
//!
//! Layers, bottom up: [`signal`] (the WebSocket), [`transport`] (one str0m connection,
//! sans-IO), [`ice_tcp`] (its TCP connections when UDP is blocked), and [`room`] (the engine task and the `Room` handle the app uses).

pub mod ice_tcp;
pub mod reconnect;
pub mod room;
pub mod signal;
pub mod synthetic;
pub mod transport;

pub use reconnect::ReconnectSchedule;
pub use room::{Room, RoomError, RoomEvent, RoomOptions};
