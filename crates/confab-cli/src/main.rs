//! The `confab` command-line tool.
//!
//! It owns the headless entry points: `confab server` hosts meetings without a display (the
//! embedded SFU), `confab join` takes part in a room from a terminal, and later `confab bench`
//! and `confab load` join them. Each subcommand is a
//! thin layer over the library crates; exit codes follow `sysexits.h` so scripts can tell
//! usage errors from unavailable features.

mod audio;
mod cli;
mod devices;
mod discover;
mod exit;
mod join;
mod local_audio;
mod media;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    init_logging();
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Server(args) => server::run(&args).map_err(|e| {
            eprintln!("confab: {e}");
            exit::code_for(&e)
        }),
        cli::Command::Join(args) => join::run(&args).map_err(|e| {
            eprintln!("confab: {e}");
            exit::code_for_join(&e)
        }),
        cli::Command::Devices => {
            devices::run();
            Ok(())
        }
        cli::Command::Discover(args) => discover::run(&args).map_err(|e| {
            eprintln!("confab: {e}");
            exit::code_for_discover(&e)
        }),
        cli::Command::Audio(command) => audio::run(&command).map_err(|e| {
            eprintln!("confab: {e}");
            exit::code_for_audio(&e)
        }),
    };
    match code {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: info for Confab, warnings for the rest).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,confab_sfu=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
