//! Confab's user interface: Leptos (client-side rendering) compiled to wasm, shown in the Tauri
//! webview.
//!
//! It renders state and sends intents; it never carries media. `ipc/` is the only place that
//! talks to the app shell, behind a [`ipc::Backend`] that is either the real Tauri bridge or a
//! mock used by component tests and browser previews.

pub mod app;
pub mod components;
pub mod ipc;
pub mod pages;
pub mod shortcuts;
pub mod state;
pub mod time;
pub mod video;

pub use app::App;
