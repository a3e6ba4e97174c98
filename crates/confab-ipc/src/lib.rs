//! The typed contract between the Confab app shell (`src-tauri/`) and the Leptos UI (`ui/`).
//!
//! Both sides compile this crate (the UI for wasm32, the shell natively), so a command's name, its
//! payload and its error shape are defined exactly once. It holds plain data and validation only:
//! no IO, no Tauri, no web APIs.

pub mod app_info;
pub mod commands;
pub mod devices;
pub mod error;
pub mod invite;
pub mod meeting;
pub mod meeting_code;

pub use app_info::AppInfo;
pub use error::{CommandError, ErrorKind};
pub use invite::{Invite, InviteError};
pub use meeting_code::{MeetingCode, MeetingCodeError};
