"""Meetings on `confab server` with peers nobody here wrote: a browser tab (`livekit-client`)
joins by code, waits seeing nobody, is let in by the host and chats with a Confab participant;
LiveKit's Python SDK tries everything a waiting guest must not do; and `confab discover` in
one network namespace finds the meeting a server in another advertises over mDNS.

The conference API is plain JSON over HTTP (docs/API.md): these tests call it with urllib, as
any client would.
"""

import asyncio
import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from livekit import api, rtc

from conftest import API_KEY, API_SECRET, has_testnet
from test_browser import BrowserPeers
from test_confab_client import finished
from test_livekit_rtc import DEADLINE_S


def create_token() -> str:
    """An API token allowed to open meetings (what the host's app signs)."""
    grants = api.VideoGrants(room_create=True)
    return api.AccessToken(API_KEY, API_SECRET).with_identity("creator").with_grants(grants).to_jwt()


def call(server, route: str, body=None, bearer=None, method="POST"):
    """`/api/conference/<route>`: returns (status, JSON body, headers)."""
    data = None if method == "GET" else json.dumps(body or {}).encode()
    request = urllib.request.Request(
        f"{server.http_url}/api/conference/{route}", data=data, method=method
    )
    request.add_header("content-type", "application/json")
    if bearer:
        request.add_header("authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE_S) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def open_meeting(server, **fields):
    status, created, _ = call(server, "create", {"host_name": "Ada", **fields}, create_token())
    assert status == 200, created
    return created


def join_by_code(server, code: str, name: str):
    status, ticket, _ = call(server, "join", {"code": code, "name": name})
    assert status == 200, ticket
    return ticket


def wait_until_waiting(server, host_token: str, identity: str):
    """Polls the host's waiting list (the app also polls it every 2 s) until `identity` knocks."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        status, listing, _ = call(server, "waiting", bearer=host_token, method="GET")
        assert status == 200, listing
        if any(guest["identity"] == identity for guest in listing["waiting"]):
            return listing
        time.sleep(0.2)
    raise AssertionError(f"{identity} never appeared in the waiting room")


def test_a_tab_waits_seeing_nobody_is_let_in_and_chats_with_the_confab_host(confab_server):
    """The browser SDK in a meeting's waiting room: its token allows nothing, it sees nobody,
    it knocks; the host admits it through the API; `ParticipantPermissionsChanged` arrives, it
    publishes and chats with the host, who is `confab join`."""

    async def scenario():
        created = open_meeting(confab_server, title="Browser meeting")
        host = created["token"]
        ticket = join_by_code(confab_server, created["code"].upper(), "Tab")
        assert ticket["waiting"] and ticket["role"] == "guest"
        tab = ticket["identity"]
        async with BrowserPeers.open(confab_server, [ticket["token"]]) as browser:
            await browser.expect("the tab to wait", lambda e: e["event"] == "waiting")
            confab = await asyncio.create_subprocess_exec(
                os.environ["CONFAB_BIN"], "join", confab_server.ws_url, "--token", host,
                "--wait-for", tab, "--chat", "hello from the host",
                "--exit-after-files", "1", "--save-dir", "/tmp",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            wait_until_waiting(confab_server, host, tab)
            await browser.send({"cmd": "state", "tab": 0})
            state = await browser.expect("the tab's state", lambda e: e["event"] == "state")
            assert state["participants"] == [], state
            assert not (state["canPublish"] or state["canSubscribe"] or state["canPublishData"])

            status, admitted, _ = call(confab_server, "admit", {"identity": tab}, bearer=host)
            assert (status, admitted) == (200, {"admitted": [tab]})
            await browser.expect("admission", lambda e: e["event"] == "admitted")
            await browser.joined(0)
            chat = await browser.expect("the host's chat", lambda e: e["event"] == "chat")
            assert chat["text"] == "hello from the host"
            await browser.send({"cmd": "chat", "tab": 0, "text": "hello from the tab"})
            await browser.expect("the chat to be sent", lambda e: e["event"] == "sent")
            # The file ends `confab join`; it travels behind the chat on the same channel.
            data = base64.b64encode(b"done").decode()
            await browser.send({"cmd": "send-file", "tab": 0, "name": "done.txt", "data": data})
            output = await finished(confab, "confab join")
        assert f"chat from={tab} private=false hello from the tab" in output, output

    asyncio.run(scenario())


def test_a_waiting_python_guest_can_publish_nothing_send_nothing_and_call_no_host_route(confab_server):
    """LiveKit's Python SDK (libwebrtc) as a hostile guest in the waiting room: it sees nobody,
    its track is refused, its data reaches nobody (proved by what it sends once admitted, on the
    same ordered channel, arriving alone), and every host route answers 403."""

    async def scenario():
        assert has_testnet(), "run through `cargo xtask test` (libwebrtc needs the test network)"
        created = open_meeting(confab_server)
        host = created["token"]
        mallory_ticket = join_by_code(confab_server, created["code"], "Mallory")
        bob_ticket = join_by_code(confab_server, created["code"], "Bob")
        # Bob is let in before he connects; his permissions come with his first knock.
        call(confab_server, "admit", {"identity": bob_ticket["identity"]}, bearer=host)
        bob = rtc.Room()
        received = asyncio.Queue()
        bob.on("data_received", lambda packet: received.put_nowait(packet.data))
        await asyncio.wait_for(bob.connect(bob_ticket["server_url"], bob_ticket["token"]), DEADLINE_S)
        status, knocked, _ = call(confab_server, "knock", bearer=bob_ticket["token"])
        assert (status, knocked["status"]) == (200, "admitted")

        mallory = rtc.Room()
        token = mallory_ticket["token"]
        await asyncio.wait_for(mallory.connect(mallory_ticket["server_url"], token), DEADLINE_S)
        try:
            assert dict(mallory.remote_participants) == {}, "a waiting guest sees nobody"
            source = rtc.AudioSource(48_000, 1)
            track = rtc.LocalAudioTrack.create_audio_track("mic", source)
            published = None
            try:
                published = await asyncio.wait_for(
                    mallory.local_participant.publish_track(track), DEADLINE_S
                )
            except Exception as refusal:  # the SDK's error for a refused or unanswered track
                print(f"publish refused: {refusal!r}")
            assert published is None, "a waiting guest published a track"
            await mallory.local_participant.publish_data(b"from the waiting room", reliable=True)
            for route, method in (("waiting", "GET"), ("admit", "POST"), ("end", "POST")):
                status, refused, _ = call(confab_server, route, {"all": True}, token, method)
                assert (status, refused["error"]) == (403, "forbidden"), (route, refused)
            assert dict(mallory.remote_participants) == {}

            call(confab_server, "admit", {"identity": mallory_ticket["identity"]}, bearer=host)
            deadline = time.monotonic() + DEADLINE_S
            while not mallory.local_participant.permissions.can_publish_data:
                assert time.monotonic() < deadline, "Mallory was never let in"
                await asyncio.sleep(0.1)
            await mallory.local_participant.publish_data(b"after admission", reliable=True)
            first = await asyncio.wait_for(received.get(), DEADLINE_S)
        finally:
            await mallory.disconnect()
            await bob.disconnect()
        assert first == b"after admission", first

    asyncio.run(scenario())


def test_guessing_codes_gets_429_with_retry_after(confab_server):
    open_meeting(confab_server)
    statuses = []
    for attempt in range(12):
        code = "zzz-zzzz-" + "abcdefghijkl"[attempt] * 3
        status, body, headers = call(confab_server, "join", {"code": code, "name": "Guesser"})
        statuses.append(status)
        if status == 429:
            assert body["error"] == "rate-limited"
            assert int(headers["Retry-After"]) >= 1
            break
    assert statuses == [404] * 10 + [429], statuses


def test_confab_discover_finds_the_meeting_from_another_namespace(confab_server):
    """`confab server` in the SFU's namespace advertises its meetings over mDNS on the test
    network; `confab discover` here (the peers' namespace) finds one by its code alone, lists
    the one whose host chose to be listed, and finds nothing for a wrong code."""
    assert has_testnet(), "run through `cargo xtask test` (mDNS runs only inside its namespaces)"
    hidden = open_meeting(confab_server, title="Private")
    listed = open_meeting(confab_server, title="Open house", listed=True)
    binary = os.environ["CONFAB_BIN"]
    host = confab_server.http_url.removeprefix("http://")

    found = subprocess.run(
        [binary, "discover", hidden["code"], "--seconds", "15"],
        capture_output=True, text=True, timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == f"meeting-found {host}"

    nearby = subprocess.run(
        [binary, "discover", "--seconds", "4"], capture_output=True, text=True, timeout=60
    )
    assert nearby.returncode == 0, nearby.stderr
    meetings = [json.loads(line) for line in nearby.stdout.splitlines()]
    assert meetings == [{"title": "Open house", "code": listed["code"], "address": host}], meetings

    missing = subprocess.run(
        [binary, "discover", "abc-defg-hij", "--seconds", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert missing.returncode == 69 and missing.stdout.strip() == "meeting-not-found"
