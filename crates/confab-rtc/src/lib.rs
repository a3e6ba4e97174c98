//! The client engine shared by the desktop app and `confab join`.
//!
//! It owns the connection to a LiveKit-compatible server (ours or a real `livekit-server`):
//! signalling, the publisher and subscriber WebRTC transports (str0m), publishing and
//! subscribing encoded media, data packets, byte and text streams, RPC, and reconnection. It
//! takes encoded frames from `confab-media` and hands encoded frames back; it owns no devices.
//! Its state machines are sans-IO: time and packets are inputs.
//!
//! So far: the signalling connection ([`signal`]) and the reconnect schedule.

pub mod reconnect;
pub mod signal;

pub use reconnect::ReconnectSchedule;
