//! A received file opened with the system's default app for it, or its folder shown in the
//! file manager. Only paths the core saved files at come here (by transfer id): the page never
//! names one.

use std::path::Path;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
#[error("cannot start {program}: {source}")]
pub struct OpenError {
    program: &'static str,
    source: std::io::Error,
}

/// Opens `path` with the app the system uses for its type.
pub fn open(path: &Path) -> Result<(), OpenError> {
    #[cfg(target_os = "macos")]
    let (program, args) = ("open", Vec::<&std::ffi::OsStr>::new());
    #[cfg(windows)]
    let (program, args) = ("explorer", Vec::<&std::ffi::OsStr>::new());
    #[cfg(not(any(target_os = "macos", windows)))]
    let (program, args) = ("xdg-open", Vec::<&std::ffi::OsStr>::new());
    launch(program, &args, path.as_os_str())
}

/// Shows the folder holding `path` (with the file selected where the system can).
pub fn show_in_folder(path: &Path) -> Result<(), OpenError> {
    #[cfg(target_os = "macos")]
    return launch("open", &["-R".as_ref()], path.as_os_str());
    #[cfg(windows)]
    return launch(
        "explorer",
        &[],
        &std::ffi::OsString::from(format!("/select,{}", path.display())),
    );
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        let folder = path.parent().unwrap_or(path);
        launch("xdg-open", &[], folder.as_os_str())
    }
}

/// Starts `program` and lets it run on its own (a thread reaps it when it exits).
fn launch(
    program: &'static str,
    args: &[&std::ffi::OsStr],
    target: &std::ffi::OsStr,
) -> Result<(), OpenError> {
    let mut child = Command::new(program)
        .args(args)
        .arg(target)
        .spawn()
        .map_err(|source| OpenError { program, source })?;
    std::thread::spawn(move || {
        if let Ok(status) = child.wait()
            && !status.success()
        {
            tracing::info!(program, %status, "the opener reported a failure");
        }
    });
    Ok(())
}
