"""Starts `confab server` for the conformance tests.

`cargo xtask test` runs pytest inside the peers' network namespace of a private test network
and names the SFU's namespace and address (CONFAB_SFU_NETNS, CONFAB_SFU_IP); the server then
runs there, advertising only that address. Without them (a developer running pytest by hand)
the server runs on loopback, which is enough for the tests that need no libwebrtc.
"""

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest
from livekit import api

API_KEY = "APIconformance"
API_SECRET = "conformance-secret-conformance-secret"
STARTUP_DEADLINE_S = 20.0
SIGNAL_PORT = 7880


@dataclass
class Server:
    http_url: str
    ws_url: str


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_listener(host: str, port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"confab server exited early with {server.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"confab server did not listen on {host}:{port} in {STARTUP_DEADLINE_S} s")


def token(room: str, identity: str, **grants) -> str:
    """A join token minted by LiveKit's own `AccessToken`."""
    video = api.VideoGrants(room_join=True, room=room, **grants)
    return (
        api.AccessToken(API_KEY, API_SECRET)
        .with_identity(identity)
        .with_name(identity.title())
        .with_grants(video)
        .to_jwt()
    )


def has_testnet() -> bool:
    return bool(os.environ.get("CONFAB_SFU_NETNS"))


@pytest.fixture()
def confab_server():
    """Yields the server's URLs; stops it (SIGTERM) afterwards."""
    binary = os.environ.get("CONFAB_BIN")
    if not binary or not os.path.isfile(binary):
        raise RuntimeError("set CONFAB_BIN to the built `confab` binary (cargo xtask test does)")
    namespace = os.environ.get("CONFAB_SFU_NETNS")
    if namespace:
        host = os.environ["CONFAB_SFU_IP"]
        port = SIGNAL_PORT
        prefix = ["ip", "netns", "exec", namespace]
    else:
        host = "127.0.0.1"
        port = _free_loopback_port()
        prefix = []
    command = prefix + [
        binary,
        "server",
        "--bind",
        host,
        "--node-ip",
        host,
        "--port",
        str(port),
        "--udp-port",
        "0" if not namespace else "7882",
        "--keys",
        f"{API_KEY}: {API_SECRET}",
    ]
    artifacts = os.environ.get("CONFAB_ARTIFACTS", tempfile.gettempdir())
    os.makedirs(artifacts, exist_ok=True)
    log_path = os.path.join(artifacts, "confab-server.log")
    with open(log_path, "ab") as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_for_listener(host, port, server)
        yield Server(http_url=f"http://{host}:{port}", ws_url=f"ws://{host}:{port}")
    finally:
        server.terminate()
        server.wait(timeout=20)
