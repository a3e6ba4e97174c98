//! Conformance with real LiveKit peers nobody here wrote: LiveKit's Python SDKs (`livekit`
//! with its libwebrtc core, `livekit-api`, `livekit.protocol`) against `confab server`.
//!
//! libwebrtc ignores loopback, so the tier builds a private test network: the SFU runs in one
//! network namespace, the peers (pytest itself) in another, joined by a bridge.

use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;
use crate::testnet::Testnet;

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let release = app::build_binaries(workspace)?;
    let testnet = Testnet::create(&["sfu", "peers"])?;
    let (Some(sfu), Some(peers)) = (testnet.host("sfu"), testnet.host("peers")) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    let python = workspace.python_venv().join("bin").join("python");
    let artifacts = workspace.artifacts_dir().join("conformance");
    std::fs::create_dir_all(&artifacts).map_err(XtaskError::io(&artifacts))?;
    let (status, lines) = process::run_streaming(
        process::command(workspace, "ip")
            .args(peers.exec_args())
            .arg(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(workspace.conformance_dir().join("python"))
            .env("CONFAB_BIN", release.join(CLI_BINARY))
            .env("CONFAB_SFU_NETNS", &sfu.namespace)
            .env("CONFAB_SFU_IP", &sfu.ip)
            .env("CONFAB_ARTIFACTS", &artifacts),
    )?;
    drop(testnet);
    Ok(with_exit_status(
        Counts::from_pytest_output(&lines),
        status.success(),
    ))
}
