//! Conformance with real LiveKit peers nobody here wrote: LiveKit's Python SDKs (`livekit`
//! with its libwebrtc core, `livekit-api`, `livekit.protocol`) against `confab server`.
//!
//! libwebrtc ignores loopback, so the tier builds a private test network: the SFU runs in one
//! network namespace, the peers (pytest itself) in another, joined by a bridge. A third host
//! sits behind a firewall that drops UDP (the bridge drops it), for `confab join` to reach a
//! real `livekit-server` (in the SFU's namespace) over ICE-TCP.

use crate::app::{self, CLI_BINARY};
use crate::error::XtaskError;
use crate::livekit_server;
use crate::paths::Workspace;
use crate::process;
use crate::summary::Counts;
use crate::test::unit::with_exit_status;
use crate::testnet::{FIREWALL_TABLE, Testnet};

pub fn run(workspace: &Workspace) -> Result<Counts, XtaskError> {
    let release = app::build_binaries(workspace)?;
    let livekit = livekit_server::ensure(workspace)?;
    let testnet = Testnet::create(&["sfu", "peers", "firewalled"])?;
    let (Some(sfu), Some(peers), Some(firewalled)) = (
        testnet.host("sfu"),
        testnet.host("peers"),
        testnet.host("firewalled"),
    ) else {
        return Err(XtaskError::Unexpected("test network hosts missing".into()));
    };
    testnet.drop_udp_of(firewalled)?;
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
            .env("CONFAB_LIVEKIT_SERVER", livekit)
            .env("CONFAB_FIREWALLED_NETNS", &firewalled.namespace)
            .env("CONFAB_FIREWALL_NETNS", &testnet.switch)
            .env("CONFAB_FIREWALL_TABLE", FIREWALL_TABLE)
            .env("CONFAB_ARTIFACTS", &artifacts),
    )?;
    drop(testnet);
    Ok(with_exit_status(
        Counts::from_pytest_output(&lines),
        status.success(),
    ))
}
