"""Starts `confab server` on a free loopback port for the conformance tests."""

import os
import socket
import subprocess
import time

import pytest

API_KEY = "APIconformance"
API_SECRET = "conformance-secret-conformance-secret"
STARTUP_DEADLINE_S = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_listener(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"confab server exited early with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"confab server did not listen on {port} within {STARTUP_DEADLINE_S} s")


@pytest.fixture()
def confab_server():
    """Yields the server's http URL; stops it (SIGTERM) afterwards."""
    binary = os.environ.get("CONFAB_BIN")
    if not binary or not os.path.isfile(binary):
        raise RuntimeError("set CONFAB_BIN to the built `confab` binary (cargo xtask test does)")
    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            "server",
            "--bind",
            "127.0.0.1",
            "--node-ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--keys",
            f"{API_KEY}: {API_SECRET}",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_listener(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)
