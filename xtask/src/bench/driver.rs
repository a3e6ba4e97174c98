//! Benchmark drivers are scripts that print their figures as lines among their progress
//! output; this runs one, echoes everything and keeps what `parse` recognises.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::error::XtaskError;

/// Runs `command` (the driver called `name`) to the end; every line it prints is echoed to
/// stderr, and the ones `parse` turns into a name and a value are returned. A driver that
/// fails is an error, whatever it printed.
pub fn figures<T>(
    command: &mut Command,
    name: &str,
    parse: impl Fn(&str) -> Option<(String, T)>,
) -> Result<BTreeMap<String, T>, XtaskError> {
    let spawn_error = |source| XtaskError::Spawn {
        program: name.into(),
        source,
    };
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let mut figures = BTreeMap::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some((key, value)) = parse(&line) {
                figures.insert(key, value);
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if !status.success() {
        return Err(XtaskError::Unexpected(format!("{name} failed ({status})")));
    }
    Ok(figures)
}
