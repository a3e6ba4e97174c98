//! `cargo xtask`: the one entry point for people and CI.
//!
//! - `setup`  install what is missing (system packages, pinned Rust tools, wasm target, the
//!   native build dependencies of later crates) and nothing else;
//! - `run`    set up, build the UI and the app, open the desktop window (or, with no display,
//!   start the headless `confab server`);
//! - `test`   set up, then run every test tier and print `N passed, N failed` per tier;
//! - `bundle` build the `.deb` and `.rpm` packages, offline;
//! - `bench`  measurements that are not tests, written to `docs/BENCHMARKS.md`.
//!
//! It deliberately has no dependencies beyond `thiserror`, so it compiles in seconds on a fresh
//! machine before anything else exists.

mod app;
mod bench;
mod error;
mod flat_json;
mod livekit_server;
mod paths;
mod process;
mod run;
mod setup;
mod summary;
mod test;
mod testnet;
mod ui;

use std::process::ExitCode;

use error::XtaskError;
use paths::Workspace;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup [--for run|test]   install whatever is missing (default: everything tests need)
  run [-- ARGS]            build and open the desktop app; headless `confab server ARGS` without a display
  test [--tier NAME]...    run the test tiers: lint, unit, scenario, conformance, component, e2e, bundle (default: all)
  bundle                   build the .deb and .rpm packages into <target>/release/bundle/
  bench fuzz [--seconds N] run every fuzz target for N seconds each (default 60; nightly + cargo-fuzz)
  bench client [--rounds N] confab join vs the Python SDK on livekit-server: join time p50/p95
                           and file throughput (docs/BENCHMARKS.md; root, like bench sfu)
  bench media [--only video|latency|audio]...
                           VP8/H.264 encode and decode ms/frame, simulcast, pixel conversions;
                           glass-to-glass and mouth-to-ear through both servers (root); and
                           Confab's audio path vs LiveKit's libwebrtc APM on the same speech
                           clips: echo (ERLE, AECMOS), 10 % loss (STOI), processing cost
  bench sfu [--seconds N] [--profile]
                           confab server vs livekit-server under the same load (default 20 s; needs
                           root, Go); --profile adds perf flame graphs of confab server (docs/bench/)
  bench ui [--seconds N] [--rounds N]
                           the desktop app's CPU showing 9 cameras + a 1080p share vs headless
                           Chromium (livekit-client) showing the same meeting (root, Xvfb)

options:
  --skip-setup             do not check or install prerequisites (test, run, bundle)

environment:
  CARGO_TARGET_DIR         build directory (default: ./target)
  CONFAB_CACHE_DIR         where native build dependencies are cached (default: ~/.cache/confab)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("\nxtask: {error}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<ExitCode, XtaskError> {
    let (command, rest) = args.split_first().ok_or(XtaskError::Usage(USAGE))?;
    let skip_setup = rest.iter().any(|a| a == "--skip-setup");
    let rest: Vec<&str> = rest
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--skip-setup")
        .collect();
    let workspace = Workspace::locate()?;
    match command.as_str() {
        "setup" => {
            let purpose = match rest.as_slice() {
                [] | ["--for", "test"] => setup::Purpose::Test,
                ["--for", "run"] => setup::Purpose::Run,
                _ => return Err(XtaskError::Usage(USAGE)),
            };
            setup::ensure(&workspace, purpose)?;
            Ok(ExitCode::SUCCESS)
        }
        "run" => {
            let passthrough = match rest.split_first() {
                None => &[][..],
                Some((&"--", args)) => args,
                Some(_) => return Err(XtaskError::Usage(USAGE)),
            };
            if !skip_setup {
                setup::ensure(&workspace, setup::Purpose::Run)?;
            }
            run::run(&workspace, passthrough)
        }
        "test" => {
            let tiers = test::parse_tiers(&rest).ok_or(XtaskError::Usage(USAGE))?;
            if !skip_setup {
                setup::ensure(&workspace, setup::Purpose::Test)?;
            }
            test::run(&workspace, &tiers)
        }
        "bundle" => {
            if !rest.is_empty() {
                return Err(XtaskError::Usage(USAGE));
            }
            if !skip_setup {
                setup::ensure(&workspace, setup::Purpose::Test)?;
            }
            let bundles = app::bundle(&workspace)?;
            for path in bundles {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        "bench" => {
            let Some((which, options)) = rest.split_first() else {
                return Err(XtaskError::Usage(USAGE));
            };
            let which = *which;
            let mut seconds = None;
            let mut with_profile = false;
            let mut rounds = None;
            let mut media_parts = Vec::new();
            let mut options = options.iter();
            while let Some(option) = options.next() {
                match *option {
                    "--seconds" => {
                        let n = options.next().ok_or(XtaskError::Usage(USAGE))?;
                        seconds = Some(n.parse().map_err(|_| XtaskError::Usage(USAGE))?);
                    }
                    "--profile" if which == "sfu" => with_profile = true,
                    "--only" if which == "media" => {
                        let part = options.next().ok_or(XtaskError::Usage(USAGE))?;
                        media_parts
                            .push(bench::media::Part::parse(part).ok_or(XtaskError::Usage(USAGE))?);
                    }
                    "--rounds" if which == "client" || which == "ui" => {
                        let n = options.next().ok_or(XtaskError::Usage(USAGE))?;
                        rounds = Some(n.parse().map_err(|_| XtaskError::Usage(USAGE))?);
                    }
                    _ => return Err(XtaskError::Usage(USAGE)),
                }
            }
            match which {
                "fuzz" => {
                    bench::fuzz::run(&workspace, seconds.unwrap_or(bench::fuzz::DEFAULT_SECONDS))?
                }
                "client" => {
                    if !skip_setup {
                        setup::ensure(&workspace, setup::Purpose::Test)?;
                    }
                    bench::client::run(
                        &workspace,
                        rounds.unwrap_or(bench::client::DEFAULT_ROUNDS),
                    )?;
                }
                "media" => {
                    if !skip_setup {
                        setup::ensure(&workspace, setup::Purpose::Test)?;
                    }
                    bench::media::run(&workspace, &media_parts)?;
                }
                "sfu" => {
                    if !skip_setup {
                        setup::ensure(&workspace, setup::Purpose::Test)?;
                    }
                    bench::sfu::run(
                        &workspace,
                        seconds.unwrap_or(bench::sfu::DEFAULT_SECONDS),
                        with_profile,
                    )?;
                }
                "ui" => {
                    if !skip_setup {
                        setup::ensure(&workspace, setup::Purpose::Test)?;
                    }
                    bench::ui::run(
                        &workspace,
                        seconds.unwrap_or(bench::ui::DEFAULT_SECONDS),
                        rounds.unwrap_or(bench::ui::DEFAULT_ROUNDS),
                    )?;
                }
                _ => return Err(XtaskError::Usage(USAGE)),
            }
            Ok(ExitCode::SUCCESS)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(XtaskError::Usage(USAGE)),
    }
}
