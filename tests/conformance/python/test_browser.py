"""LiveKit's browser SDK (`livekit-client`) in Debian's Chromium against `confab server`.

Tabs run `tests/conformance/browser/page.html` with fake camera and microphone, driven by
`peer.mjs` (playwright-core). The assertions read WebRTC's own receive statistics
(frames decoded, audio bytes) and what the tabs report receiving from a Python peer.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import tempfile

from conftest import has_testnet, token
from test_confab_client import finished, run_confab_join
from test_livekit_rtc import DEADLINE_S, collect_chat, joined, wait_for_participants

# Chrome's send-side bandwidth estimate starts at libwebrtc's default (300 kbit/s) or at the
# `x-google-start-bitrate` hint livekit-client adds, at most 1 Mbit/s; it rises above that only
# when the receiver reports what arrived.
START_HINT_CAP_BPS = 1_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
PEER_SCRIPT = os.path.join(ROOT, "tests", "conformance", "browser", "peer.mjs")
NODE_MODULES = os.path.join(ROOT, "tools", "node_modules")


async def poll(what: str, read, accept, deadline_s: float):
    """Reads statistics with `read()` until `accept(value)` holds; returns that value."""

    async def loop():
        while True:
            value = await read()
            if accept(value):
                return value
            # Statistics are polled: WebRTC raises no event when a counter changes.
            await asyncio.sleep(0.2)

    try:
        return await asyncio.wait_for(loop(), deadline_s)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; last: {await read()}") from None


def total(tracks: list, kind: str, field: str, sender=None) -> int:
    return sum(
        t[field]
        for t in tracks
        if t["kind"] == kind and (sender is None or t["from"] == sender)
    )


class BrowserPeers:
    """The `peer.mjs` process: one Chromium tab per token."""

    def __init__(self, process):
        self.process = process
        self.pending = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, server, tokens, video_codec="vp8", dynacast=False):
        assert has_testnet(), "run through `cargo xtask test` (it builds the test network)"
        process = await asyncio.create_subprocess_exec(
            "node",
            PEER_SCRIPT,
            server.ws_url,
            *tokens,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "CONFAB_NODE_MODULES": NODE_MODULES,
                "CONFAB_VIDEO_CODEC": video_codec,
                "CONFAB_DYNACAST": "1" if dynacast else "0",
            },
        )
        peers = cls(process)
        try:
            yield peers
        finally:
            with contextlib.suppress(Exception):
                await peers.send({"cmd": "quit"})
                await asyncio.wait_for(process.wait(), DEADLINE_S)
            if process.returncode is None:
                process.kill()
                await process.wait()

    async def send(self, command: dict):
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, what: str, predicate) -> dict:
        """The first event (already seen or arriving) that satisfies `predicate`."""
        for event in self.pending:
            if predicate(event):
                self.pending.remove(event)
                return event

        async def read():
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"the browser peers exited while waiting for {what}")
                event = json.loads(line)
                failure = event.get("event") in ("join-failed", "page-error")
                assert not failure, f"browser: {event}"
                if predicate(event):
                    return event
                self.pending.append(event)

        try:
            return await asyncio.wait_for(read(), DEADLINE_S)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; saw {self.pending}") from None

    async def joined(self, tab: int):
        await self.expect(f"tab {tab} to join", lambda e: e["tab"] == tab and e["event"] == "joined")

    async def stats(self, tab: int) -> list:
        await self.send({"cmd": "stats", "tab": tab})
        event = await self.expect("stats", lambda e: e["tab"] == tab and e["event"] == "stats")
        return event["tracks"]

    async def sent_stats(self, tab: int) -> list:
        await self.send({"cmd": "sent-stats", "tab": tab})
        event = await self.expect(
            "sent stats", lambda e: e["tab"] == tab and e["event"] == "sent-stats"
        )
        return event["tracks"]

    async def both_joined_and_receiving(self, viewer: int, sender: str):
        """Until both tabs joined and tab `viewer` decodes and hears `sender`."""
        await self.joined(0)
        await self.joined(1)
        await self.wait_for_media(viewer, sender)

    async def wait_for_media(self, tab: int, sender: str) -> list:
        """Until tab `tab` has decoded video frames and received audio from `sender`; returns
        the stats of `sender`'s tracks. Generous: two Chromium tabs encoding and decoding share
        two cores with the SFU."""
        tracks = await poll(
            f"tab {tab} to decode and hear {sender}",
            lambda: self.stats(tab),
            lambda tracks: total(tracks, "video", "framesDecoded", sender) > 0
            and total(tracks, "audio", "bytesReceived", sender) > 0,
            3 * DEADLINE_S,
        )
        return [t for t in tracks if t["from"] == sender]


def test_two_browser_tabs_see_and_hear_each_other(confab_server):
    async def scenario():
        tokens = [token("web", "tab-a"), token("web", "tab-b")]
        async with BrowserPeers.open(confab_server, tokens) as browser:
            await browser.joined(0)
            await browser.joined(1)
            await browser.wait_for_media(0, "tab-b")
            await browser.wait_for_media(1, "tab-a")

    asyncio.run(scenario())


async def video_width(
    browser: BrowserPeers, tab: int, sender: str, accept, deadline_s: float
) -> int:
    """Tab `tab`'s decoded width of `sender`'s video, once `accept(width)` holds."""

    def width(tracks: list) -> int:
        widths = [
            t["frameWidth"]
            for t in tracks
            if t["from"] == sender and t["kind"] == "video" and t["frameWidth"] > 0
        ]
        return widths[0] if widths else 0

    tracks = await poll(
        f"tab {tab}'s decoded width of {sender}'s video",
        lambda: browser.stats(tab),
        lambda tracks: width(tracks) > 0 and accept(width(tracks)),
        deadline_s,
    )
    return width(tracks)


def test_two_tabs_exchange_h264_video(confab_server):
    async def scenario():
        tokens = [token("h264", "tab-a"), token("h264", "tab-b")]
        async with BrowserPeers.open(confab_server, tokens, video_codec="h264") as browser:
            await browser.joined(0)
            await browser.joined(1)
            for tab, sender in [(0, "tab-b"), (1, "tab-a")]:
                tracks = await browser.wait_for_media(tab, sender)
                video = [t for t in tracks if t["kind"] == "video"]
                assert video and video[0]["mimeType"].lower() == "video/h264", tracks

    asyncio.run(scenario())


# livekit-client's lowest simulcast layer of its default 1280×720 camera (320×180).
LOWEST_LAYER_WIDTH = 320


def test_a_tab_switches_simulcast_layers_of_another(confab_server):
    async def scenario():
        tokens = [token("layers", "sender"), token("layers", "viewer")]
        async with BrowserPeers.open(confab_server, tokens) as browser:
            await browser.both_joined_and_receiving(1, "sender")
            # The sender's bandwidth estimate starts low, and while only its lowest layer flows
            # the SFU forwards that one in place of the best: wait for a layer above it.
            best = await video_width(
                browser, 1, "sender", lambda width: width > LOWEST_LAYER_WIDTH, DEADLINE_S
            )

            await browser.send({"cmd": "quality", "tab": 1, "from": "sender", "quality": "LOW"})
            low = await video_width(
                browser, 1, "sender", lambda width: width < best, 3 * DEADLINE_S
            )
            await browser.send({"cmd": "quality", "tab": 1, "from": "sender", "quality": "HIGH"})
            high = await video_width(
                browser, 1, "sender", lambda width: width > low, 3 * DEADLINE_S
            )
            assert low < best and high > low, (best, low, high)

    asyncio.run(scenario())


def test_a_tab_publishes_only_the_layers_our_sfu_says_are_received(confab_server):
    """Dynacast with livekit-client as the publisher: when its only viewer asks for the low
    layer, our SFU's SubscribedQualityUpdate (after its 5 s downgrade delay) makes the SDK turn
    its upper encodings off; asking for the high layer turns them on again."""

    async def active_rids(browser, wanted):
        # The SDK changes its encodings when the update arrives; nothing signals it.
        await poll(
            f"the sender's active layers to become {wanted}",
            lambda: browser.sent_stats(0),
            lambda tracks: any(
                t["kind"] == "video" and sorted(t["activeRids"]) == sorted(wanted) for t in tracks
            ),
            3 * DEADLINE_S,
        )

    async def scenario():
        tokens = [token("dynacast", "sender"), token("dynacast", "viewer")]
        async with BrowserPeers.open(confab_server, tokens, dynacast=True) as browser:
            await browser.both_joined_and_receiving(1, "sender")
            await active_rids(browser, ["q", "h", "f"])
            await browser.send({"cmd": "quality", "tab": 1, "from": "sender", "quality": "LOW"})
            await active_rids(browser, ["q"])
            await browser.send({"cmd": "quality", "tab": 1, "from": "sender", "quality": "HIGH"})
            await active_rids(browser, ["q", "h", "f"])

    asyncio.run(scenario())


def test_a_tab_resumes_after_losing_its_signalling_connection(confab_server):
    async def scenario():
        tokens = [token("resume", "mover"), token("resume", "watcher")]
        async with BrowserPeers.open(confab_server, tokens) as browser:
            await browser.joined(0)
            await browser.joined(1)
            await browser.wait_for_media(1, "mover")
            await browser.wait_for_media(0, "watcher")

            await browser.send({"cmd": "simulate", "tab": 0, "scenario": "signal-reconnect"})
            await browser.expect(
                "the tab to resume", lambda e: e["tab"] == 0 and e["event"] == "reconnected"
            )
            # Media keeps flowing both ways: frames decoded after the resume grow again.
            before = total(await browser.stats(1), "video", "framesDecoded")
            await poll(
                "more frames decoded after the resume",
                lambda: browser.stats(1),
                lambda tracks: total(tracks, "video", "framesDecoded") > before + 10,
                3 * DEADLINE_S,
            )
            await browser.send({"cmd": "chat", "tab": 0, "text": "still here"})
            chat = await browser.expect(
                "the chat after the resume", lambda e: e["tab"] == 1 and e["event"] == "chat"
            )
            assert chat["text"] == "still here"
            left = [e for e in browser.pending if e["event"] == "participant-left"]
            assert left == [], left

    asyncio.run(scenario())


def test_a_tab_chats_with_a_python_peer_and_receives_its_file(confab_server):
    async def scenario():
        payload = os.urandom(3 * 1024 * 1024)
        async with joined(confab_server, "mixed", "py") as python_peer, BrowserPeers.open(
            confab_server, [token("mixed", "tab")]
        ) as browser:
            await browser.joined(0)
            await wait_for_participants(python_peer, {"tab"})

            # Python -> browser chat.
            await python_peer.local_participant.send_text("hi from python", topic="lk.chat")
            chat = await browser.expect("the tab to get the chat", lambda e: e["event"] == "chat")
            assert (chat["from"], chat["text"]) == ("py", "hi from python")

            # Browser -> Python chat.
            heard = collect_chat(python_peer)
            await browser.send({"cmd": "chat", "tab": 0, "text": "hi from the browser"})
            assert await heard.wait("python to get the chat") == ("tab", "hi from the browser")

            # Python -> browser file.
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "slides.pdf")
                with open(path, "wb") as file:
                    file.write(payload)
                await asyncio.wait_for(
                    python_peer.local_participant.send_file(path, topic="files"), 60
                )
            received = await browser.expect("the tab to get the file", lambda e: e["event"] == "file")
            assert (received["from"], received["name"]) == ("py", "slides.pdf")
            assert received["size"] == len(payload)
            assert received["sha256"] == hashlib.sha256(payload).hexdigest()

    asyncio.run(scenario())


def test_audio_travels_as_red_both_ways_through_the_server(confab_server):
    """livekit-client asks for RED (disable_red=false): the server's answer puts it first, the
    publisher sends audio/red, and the server offers it on to a subscriber that supports it."""

    async def scenario():
        tokens = [token("red", "speaker"), token("red", "listener")]
        async with BrowserPeers.open(confab_server, tokens) as browser:
            await browser.both_joined_and_receiving(1, "speaker")
            heard = await poll(
                "the listener to receive audio",
                lambda: browser.stats(1),
                lambda tracks: total(tracks, "audio", "bytesReceived", "speaker") > 10_000,
                3 * DEADLINE_S,
            )
            sent = [t for t in await browser.sent_stats(0) if t["kind"] == "audio"]
            assert len(sent) == 1 and sent[0]["negotiated"][0].lower() == "audio/red", sent
            audio = [t for t in heard if t["kind"] == "audio" and t["from"] == "speaker"]
            assert len(audio) == 1, heard
            assert "audio/red" in [c.lower() for c in audio[0]["negotiated"]], audio
            # WebRTC's stats name the inner Opus for RED, so the wire format shows in the size:
            # a RED packet carries the previous frame too, about twice a plain Opus packet.
            # Plain Opus downstream would give a ratio near 0.5.
            sent_size = sent[0]["bytesSent"] / max(sent[0]["packetsSent"], 1)
            heard_size = audio[0]["bytesReceived"] / max(audio[0]["packetsReceived"], 1)
            assert heard_size > 0.75 * sent_size, (sent_size, heard_size)

    asyncio.run(scenario())


def test_video_survives_media_loss_with_nack_and_retransmission(lossy_confab_server):
    """With 5 % of media packets dropped each way between the tabs and the server, the server
    asks the publisher to retransmit (NACK upstream), answers the viewer's NACKs with
    retransmissions (RTX downstream), the viewer keeps decoding frames, and the publisher is
    told its connection quality dropped below EXCELLENT."""

    async def scenario():
        tokens = [token("lossy", "sender"), token("lossy", "viewer")]
        async with BrowserPeers.open(lossy_confab_server, tokens) as browser:
            await browser.both_joined_and_receiving(1, "sender")

            upstream = await poll(
                "the server to NACK the publisher and get retransmissions",
                lambda: browser.sent_stats(0),
                lambda tracks: total(tracks, "video", "nackCount") > 0
                and total(tracks, "video", "retransmittedPacketsSent") > 0,
                3 * DEADLINE_S,
            )
            downstream = await poll(
                "the viewer's NACKs to be answered with retransmissions",
                lambda: browser.stats(1),
                lambda tracks: total(tracks, "video", "nackCount", "sender") > 0
                and total(tracks, "video", "retransmittedPacketsReceived", "sender") > 0,
                3 * DEADLINE_S,
            )
            decoded = total(downstream, "video", "framesDecoded", "sender")
            await poll(
                "the viewer to keep decoding under loss",
                lambda: browser.stats(1),
                lambda tracks: total(tracks, "video", "framesDecoded", "sender") > decoded + 30,
                3 * DEADLINE_S,
            )
            assert total(upstream, "video", "packetsSent") > 0
            # The server rates the lossy connection below EXCELLENT and tells the tab.
            rated = await browser.expect(
                "a lowered connection quality",
                lambda e: e["tab"] == 0
                and e["event"] == "quality"
                and e["identity"] == "sender"
                and e["quality"] in ("good", "poor"),
            )
            assert rated["quality"] in ("good", "poor"), rated

    asyncio.run(scenario())


def test_the_publisher_bandwidth_estimate_follows_congestion_feedback(confab_server):
    """The server sends transport-wide congestion control feedback for what it receives;
    Chrome's send-side estimate rises above its start value only with that feedback (the
    camera's simulcast layers ask for more than the start hint)."""

    async def scenario():
        tokens = [token("twcc", "sender"), token("twcc", "viewer")]
        async with BrowserPeers.open(confab_server, tokens) as browser:
            await browser.both_joined_and_receiving(1, "sender")
            await poll(
                "the send-side estimate to rise above the start hint",
                lambda: browser.sent_stats(0),
                lambda tracks: max(t["availableOutgoingBitrate"] for t in tracks)
                > START_HINT_CAP_BPS,
                3 * DEADLINE_S,
            )

    asyncio.run(scenario())


def test_a_tab_and_confab_join_see_and_hear_each_other_and_exchange_chat_and_files(confab_server):
    """Confab's client engine beside livekit-client: the tab decodes Confab's test pattern (the
    counters read back from its pixels advance), Confab decodes the tab's camera and microphone,
    and chat and files go both ways with equal hashes."""

    async def scenario():
        ours, theirs = os.urandom(300_000), os.urandom(300_000)
        with tempfile.TemporaryDirectory() as directory:
            our_path = os.path.join(directory, "from-confab.bin")
            inbox = os.path.join(directory, "inbox")
            with open(our_path, "wb") as file:
                file.write(ours)
            async with BrowserPeers.open(confab_server, [token("duo", "tab")]) as browser:
                await browser.joined(0)
                confab = await run_confab_join(
                    confab_server, "duo", "confab", "--test-media", "--wait-for", "tab",
                    "--send-file", our_path, "--save-dir", inbox, "--exit-after-files", "1",
                )
                await browser.wait_for_media(0, "confab")
                counters = await stamps_advance(browser, "confab", count=5)
                assert all(a < b for a, b in zip(counters, counters[1:])), counters

                file = await browser.expect("confab's file at the tab", lambda e: e["event"] == "file")
                assert (file["from"], file["name"]) == ("confab", "from-confab.bin")
                assert file["sha256"] == hashlib.sha256(ours).hexdigest()

                # Chat first: it travels on the same ordered channel as the file, so it is in
                # before the file that ends `confab join`.
                await browser.send({"cmd": "chat", "tab": 0, "text": "hello from the tab"})
                await browser.expect("the chat to be sent", lambda e: e["event"] == "sent")
                data = base64.b64encode(theirs).decode()
                await browser.send({"cmd": "send-file", "tab": 0, "name": "from-tab.bin", "data": data})
                output = await finished(confab, "confab join")

            assert "chat from=tab private=false hello from the tab" in output, output
            for kind in ("video", "audio"):
                decoded = re.search(rf"^{kind}-decoded tab TR_\w+ (?:codec=\w+ )?frames=(\d+) ", output, re.M)
                assert decoded and int(decoded.group(1)) > 0, output
            received = re.search(r"^file-received from=tab bytes=(\d+) sha256=(\w+) ", output, re.M)
            assert received, output
            assert int(received.group(1)) == len(theirs)
            assert received.group(2) == hashlib.sha256(theirs).hexdigest()

    asyncio.run(scenario())


def test_a_tab_decodes_confab_joins_h264_simulcast(confab_server):
    """Confab's OpenH264 simulcast in a browser: the tab receives H.264 and the counters read
    back from its pixels advance."""

    async def scenario():
        async with BrowserPeers.open(confab_server, [token("h264-duo", "tab")]) as browser:
            await browser.joined(0)
            confab = await run_confab_join(
                confab_server, "h264-duo", "confab", "--test-media", "--video-codec", "h264",
                "--wait-for", "tab",
            )
            tracks = await browser.wait_for_media(0, "confab")
            video = [t for t in tracks if t["kind"] == "video"]
            assert video and video[0]["mimeType"].lower() == "video/h264", tracks
            counters = await stamps_advance(browser, "confab", count=5)
            assert all(a < b for a, b in zip(counters, counters[1:])), counters
            confab.send_signal(signal.SIGINT)
            await finished(confab, "confab join")

    asyncio.run(scenario())


async def stamps_advance(browser: BrowserPeers, sender: str, count: int) -> list:
    """Reads the stamp of the frame the tab shows for `sender` until `count` distinct counters
    were seen. Once one frame had a stamp, every later one must have one too."""
    counters = []

    async def read():
        await browser.send({"cmd": "stamp", "tab": 0, "from": sender})
        return await browser.expect("a stamp", lambda e: e["event"] == "stamp")

    async def loop():
        while len(counters) < count:
            shown = await read()
            stamp = shown["stamp"]
            assert stamp is not None or not counters, f"an unreadable frame after stamped ones: {shown}"
            if stamp is not None and (not counters or counters[-1] != stamp["counter"]):
                counters.append(stamp["counter"])
            # The element shows a new frame every 33 ms; nothing signals it.
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(loop(), 3 * DEADLINE_S)
    except asyncio.TimeoutError:
        raise AssertionError(f"only {counters} read from the tab's frames") from None
    return counters
