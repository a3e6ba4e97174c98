"""Starts `confab server` for the conformance tests.

`cargo xtask test` runs pytest inside the peers' network namespace of a private test network
and names the SFU's namespace and address (CONFAB_SFU_NETNS, CONFAB_SFU_IP); the server then
runs there, advertising only that address. Without them (a developer running pytest by hand)
the server runs on loopback, which is enough for the tests that need no libwebrtc.

`livekit_server` runs a real `livekit-server` (CONFAB_LIVEKIT_SERVER) in the SFU's namespace
for the tests of our client engine against it; CONFAB_FIREWALLED_NETNS names a host whose UDP
the test network's bridge drops (counted in the nft table CONFAB_FIREWALL_TABLE of the
namespace CONFAB_FIREWALL_NETNS).
"""

import json

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest
from livekit import api

API_KEY = "APIconformance"
API_SECRET = "conformance-secret-conformance-secret"
STARTUP_DEADLINE_S = 20.0
SIGNAL_PORT = 7880
MEDIA_PORT = 7882
RELAY_SCRIPT = os.path.join(os.path.dirname(__file__), "lossy_relay.py")
RELAY_LOSS = 0.05
# The relay's address in the test network: the SFU's /24 with this last octet.
RELAY_HOST_OCTET = 250
# livekit-server's ports beside ours (its own defaults plus ten).
LIVEKIT_SIGNAL_PORT = 7890
LIVEKIT_TCP_PORT = 7891
LIVEKIT_UDP_PORT = 7892


@dataclass
class Server:
    http_url: str
    ws_url: str


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_listener(host: str, port: int, server: subprocess.Popen, what="confab server") -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{what} exited early with {server.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on {host}:{port} in {STARTUP_DEADLINE_S} s")


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
    with _running_server() as server:
        yield server


@pytest.fixture()
def livekit_server():
    """A real `livekit-server` in the SFU's namespace with the same API key, signalling on
    LIVEKIT_SIGNAL_PORT, ICE-TCP on LIVEKIT_TCP_PORT (passive candidates) and UDP on
    LIVEKIT_UDP_PORT; stopped afterwards."""
    namespace = os.environ.get("CONFAB_SFU_NETNS")
    binary = os.environ.get("CONFAB_LIVEKIT_SERVER")
    assert namespace and binary, "run through `cargo xtask test` (it builds the test network)"
    host = os.environ["CONFAB_SFU_IP"]
    config = (
        f"port: {LIVEKIT_SIGNAL_PORT}\n"
        f"rtc:\n  tcp_port: {LIVEKIT_TCP_PORT}\n  udp_port: {LIVEKIT_UDP_PORT}\n"
    )
    command = ["ip", "netns", "exec", namespace, binary, "--bind", host, "--node-ip", host]
    command += ["--keys", f"{API_KEY}: {API_SECRET}", "--config-body", config]
    artifacts = os.environ.get("CONFAB_ARTIFACTS", tempfile.gettempdir())
    os.makedirs(artifacts, exist_ok=True)
    with open(os.path.join(artifacts, "livekit-server.log"), "ab") as log:
        server = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        _wait_for_listener(host, LIVEKIT_SIGNAL_PORT, server, "livekit-server")
        url = f"{host}:{LIVEKIT_SIGNAL_PORT}"
        yield Server(http_url=f"http://{url}", ws_url=f"ws://{url}")
    finally:
        # A first SIGTERM drains rooms for a while (a participant it still counts keeps it
        # waiting); the test is over, so a server that lingers is killed.
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def firewalled_namespace() -> str:
    """The namespace of the host whose UDP the test network drops."""
    namespace = os.environ.get("CONFAB_FIREWALLED_NETNS")
    assert namespace, "run through `cargo xtask test` (it builds the test network)"
    return namespace


@contextlib.contextmanager
def outage_of_the_firewalled_host():
    """The firewalled host's network goes away until the block ends, as when a laptop's Wi-Fi
    drops: its link goes down (sends fail, nothing arrives) and its open TCP connections to
    the server are aborted by its own kernel (`ss -K`), unseen by the server."""
    namespace = firewalled_namespace()
    link = ["ip", "-n", namespace, "link", "set", "eth0"]
    subprocess.run(link + ["down"], check=True)
    try:
        subprocess.run(
            ["ip", "netns", "exec", namespace, "ss", "-K", "dst", os.environ["CONFAB_SFU_IP"]],
            check=True,
            capture_output=True,
        )
        yield
    finally:
        subprocess.run(link + ["up"], check=True)


def udp_dropped_by_the_firewall() -> int:
    """UDP datagrams the firewall has dropped so far, both ways."""
    table = os.environ["CONFAB_FIREWALL_TABLE"]
    listing = subprocess.run(
        ["ip", "netns", "exec", os.environ["CONFAB_FIREWALL_NETNS"]]
        + ["nft", "-j", "list", "table", "bridge", table],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    dropped = 0
    for item in json.loads(listing)["nftables"]:
        for expression in item.get("rule", {}).get("expr", []):
            if "counter" in expression:
                dropped += expression["counter"]["packets"]
    return dropped


@pytest.fixture()
def lossy_confab_server():
    """`confab_server` behind a relay that drops 5 % of media packets each way.

    The relay (`lossy_relay.py`) gets a second address in the SFU's namespace; the server
    advertises that address in its ICE candidates, so every media packet crosses the relay.
    """
    namespace = os.environ.get("CONFAB_SFU_NETNS")
    assert namespace, "run through `cargo xtask test` (it builds the test network)"
    sfu_ip = os.environ["CONFAB_SFU_IP"]
    relay_ip = sfu_ip.rsplit(".", 1)[0] + f".{RELAY_HOST_OCTET}"
    device = _device_with_address(namespace, sfu_ip)
    address = ["ip", "-n", namespace, "addr"]
    subprocess.run(address + ["add", f"{relay_ip}/24", "dev", device], check=True)
    relay = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, RELAY_SCRIPT]
        + ["--listen", f"{relay_ip}:{MEDIA_PORT}", "--upstream", f"{sfu_ip}:{MEDIA_PORT}"]
        + ["--loss", str(RELAY_LOSS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = relay.stdout.readline().strip()
        assert ready == "READY", f"the lossy relay did not start: {ready!r}"
        with _running_server(advertise=relay_ip) as server:
            yield server
    finally:
        relay.terminate()
        report, _ = relay.communicate(timeout=20)
        subprocess.run(address + ["del", f"{relay_ip}/24", "dev", device], check=False)
        print(f"lossy relay: {report.strip()}")


def _device_with_address(namespace: str, ip: str) -> str:
    listing = subprocess.run(
        ["ip", "-n", namespace, "-o", "-4", "addr", "show"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3].split("/")[0] == ip:
            return fields[1]
    raise RuntimeError(f"no device has {ip} in {namespace}")


@contextlib.contextmanager
def _running_server(advertise=None):
    """Runs `confab server` (in the SFU's namespace when there is one) advertising `advertise`
    (default: the address it binds) until the block ends."""
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
        advertise or host,
        "--port",
        str(port),
        "--udp-port",
        "0" if not namespace else str(MEDIA_PORT),
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
