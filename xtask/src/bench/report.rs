//! Sections of `docs/BENCHMARKS.md`: each benchmark replaces only its own section, marked by
//! HTML comments, and states the machine it ran on.

use std::path::Path;

use crate::error::XtaskError;
use crate::process;

/// Replaces (or appends) the section named `name` in the file at `path`.
pub fn write_section(path: &Path, name: &str, body: &str) -> Result<(), XtaskError> {
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let updated = replace_section(&existing, name, body);
    // Written next to the file and renamed, so an interrupted run never leaves half a report.
    let staging = path.with_extension("md.partial");
    std::fs::write(&staging, updated).map_err(XtaskError::io(&staging))?;
    std::fs::rename(&staging, path).map_err(XtaskError::io(path))
}

fn replace_section(document: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- bench:{name} -->");
    let end = format!("<!-- /bench:{name} -->");
    let section = format!("{begin}\n{}\n{end}", body.trim_end());
    match (document.find(&begin), document.find(&end)) {
        (Some(start), Some(stop)) if stop > start => format!(
            "{}{section}{}",
            &document[..start],
            &document[stop + end.len()..]
        ),
        _ => format!("{}\n\n{section}\n", document.trim_end()),
    }
}

/// One line describing this machine: CPU model, cores, memory, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / (1024 * 1024));
    let kernel = process::output(std::process::Command::new("uname").arg("-sr"))
        .map_or_else(|| "unknown kernel".to_owned(), |k| k.trim().to_owned());
    format!("{model}, {cores} cores, {memory_gib} GiB, {kernel}")
}

/// Today's date (UTC), from `date`, for the report header.
pub fn today() -> String {
    process::output(std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]))
        .map_or_else(|| "unknown date".to_owned(), |d| d.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_and_others_are_kept() {
        let document =
            "# Benchmarks\n\nintro\n\n<!-- bench:fuzz -->\nold\n<!-- /bench:fuzz -->\n\ntail\n";
        let updated = replace_section(document, "fuzz", "new\n");
        assert_eq!(
            updated,
            "# Benchmarks\n\nintro\n\n<!-- bench:fuzz -->\nnew\n<!-- /bench:fuzz -->\n\ntail\n"
        );
    }

    #[test]
    fn a_missing_section_is_appended() {
        let updated = replace_section("# Benchmarks\n", "sfu", "numbers");
        assert_eq!(
            updated,
            "# Benchmarks\n\n<!-- bench:sfu -->\nnumbers\n<!-- /bench:sfu -->\n"
        );
    }
}
