//! `livekit-server`, the real server the client engine's tests join and the SFU benchmark's
//! reference, built from its Go module at a pinned version into the cache directory (outside
//! the checkout, so clean clones on one machine share the build).
//!
//! `go install …/cmd/server@version` does not work with the module proxy these machines reach
//! (its checksum-database lookup answers 404), so the module is downloaded with the checksum
//! database skipped for this one module and built in place; its own `go.sum` still verifies
//! every dependency.

use std::path::PathBuf;

use crate::error::XtaskError;
use crate::flat_json;
use crate::paths::Workspace;
use crate::process;
use crate::setup::go_toolchain;

const MODULE: &str = "github.com/livekit/livekit-server";
/// The last 1.9 release, the protocol generation Confab follows.
const VERSION: &str = "v1.9.11";

/// The path of a `livekit-server` built at [`VERSION`], building it when missing.
pub fn ensure(workspace: &Workspace) -> Result<PathBuf, XtaskError> {
    let binary = workspace
        .cache_dir()
        .join("livekit-server")
        .join("livekit-server");
    // A build inside the module reports its version as "(devel)", so a stamp records it.
    let stamp = binary.with_extension("version");
    let built = std::fs::read_to_string(&stamp).unwrap_or_default();
    if binary.exists() && built.trim() == VERSION {
        return Ok(binary);
    }
    let go = go_toolchain::ensure(workspace)?;
    let download = process::output(
        process::command(workspace, &go)
            .env("GOTOOLCHAIN", "local")
            .args(["mod", "download", "-json", &format!("{MODULE}@{VERSION}")])
            .env("GONOSUMDB", MODULE)
            .env("GOFLAGS", "-mod=mod"),
    )
    .ok_or_else(|| XtaskError::Unexpected(format!("go mod download {MODULE}@{VERSION} failed")))?;
    let module_dir = flat_json::string_field(&download, "Dir")
        .ok_or_else(|| XtaskError::Unexpected("go mod download printed no Dir".into()))?;
    let staging = binary.with_extension("partial");
    if let Some(dir) = binary.parent() {
        std::fs::create_dir_all(dir).map_err(XtaskError::io(dir))?;
    }
    process::run(
        process::command(workspace, &go)
            .env("GOTOOLCHAIN", "local")
            .current_dir(&module_dir)
            .args(["build", "-o"])
            .arg(&staging)
            .arg("./cmd/server"),
    )?;
    // Renamed only once complete, so an interrupted build leaves nothing under the real name.
    std::fs::rename(&staging, &binary).map_err(XtaskError::io(&binary))?;
    std::fs::write(&stamp, VERSION).map_err(XtaskError::io(&stamp))?;
    Ok(binary)
}
