//! Tauri commands, one module per domain. Each returns `Result<_, ShellError>`.

pub mod app;
