//! The `confab` command-line tool.
//!
//! It owns the headless entry points: `confab server` hosts meetings without a display (the
//! embedded SFU), and later `confab join`, `confab bench` and `confab load`. Each subcommand is a
//! thin layer over the library crates; exit codes follow `sysexits.h` so scripts can tell
//! usage errors from unavailable features.

mod cli;
mod exit;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Server(args) => server::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("confab: {error}");
            ExitCode::from(exit::code_for(&error))
        }
    }
}
