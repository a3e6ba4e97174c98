"""`confab join` on a network that drops UDP reaches a real `livekit-server` over ICE-TCP.

The test network's bridge silently drops every UDP datagram to and from the firewalled host,
as many corporate networks do; TCP passes. `confab join` runs there, and LiveKit's Python SDK
(libwebrtc, on UDP) joins the same `livekit-server` from the peers' host. Both must see and
hear each other and exchange chat, while Confab's media goes over TCP to the server's
passive candidate (port LIVEKIT_TCP_PORT).

Then the firewalled host's network goes away altogether for OUTAGE_S, as when a laptop's
Wi-Fi drops: `confab join` must notice, resume its session on `livekit-server` once the network
is back (the Python peer never sees it leave), its video must flow again on the same track, and
every chat message it sent before, during and after the outage must arrive exactly once, in
order.
"""

import asyncio
import os
import re
import signal
import tempfile
import time

from livekit import rtc

from conftest import (
    firewalled_namespace,
    outage_of_the_firewalled_host,
    udp_dropped_by_the_firewall,
)
from test_confab_client import (
    assert_decoded_python_media,
    decoded_stamps,
    finished,
    python_sees_and_hears_confab,
    run_confab_join,
)
from test_livekit_rtc import (
    DEADLINE_S,
    Event,
    collect_chat,
    joined,
    on_subscribed,
    publish_colour,
    publish_tone,
)


def test_confab_behind_a_udp_firewall_talks_to_a_python_peer_over_ice_tcp(livekit_server):
    async def scenario():
        dropped_before = udp_dropped_by_the_firewall()
        async with joined(livekit_server, "firewall", "python") as python:
            pumps = [await publish_tone(python, 660), await publish_colour(python, (0, 0, 255))]
            video_arrived = on_subscribed(python, rtc.TrackKind.KIND_VIDEO)
            audio_arrived = on_subscribed(python, rtc.TrackKind.KIND_AUDIO)
            chat_at_python = collect_chat(python)
            confab = await run_confab_join(
                livekit_server, "firewall", "confab",
                "--wait-for", "python",
                "--chat", "through the firewall",
                "--test-media", "--tone-hz", "440",
                "--duration", "12",
                netns=firewalled_namespace(),
            )
            assert await chat_at_python.wait("confab's chat at python") == (
                "confab",
                "through the firewall",
            )
            await python_sees_and_hears_confab(video_arrived, audio_arrived, tone_hz=440)
            output = await finished(confab, "confab join")
            for pump in pumps:
                pump.cancel()

        # livekit-server 1.9 takes `/rtc/v1`: one peer connection (the publisher) carries both
        # directions, all of it over TCP.
        assert "peer-connections=1" in output, output
        assert "media-path publisher tcp" in output, output
        assert "media-path publisher udp" not in output, output
        assert "media-path subscriber" not in output, output
        assert_decoded_python_media(output, tone_hz=660)
        # Confab did try UDP first (its host candidate and the server's UDP candidate).
        dropped = udp_dropped_by_the_firewall() - dropped_before
        assert dropped > 0
        summary = [line for line in output.splitlines() if line.startswith(("media-path", "video-", "audio-"))]
        print(f"UDP datagrams dropped by the firewall: {dropped}", *summary, sep="\n")

    asyncio.run(scenario())


# As long as the issue asks the client to survive.
OUTAGE_S = 5
# LiveKit's backoff (the attempt after 4.2 s comes at 9 s) and ICE.
RECOVERY_DEADLINE_S = 30
# SCTP's retransmission timeout at most (RFC 4960's RTO.Max, which str0m keeps), and a margin.
SCTP_BACKOFF_S = 75


class Lines:
    """Reads a process's stdout line by line in the background; waits for lines."""

    def __init__(self, process):
        self.lines = []
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read(process.stdout))

    async def _read(self, stdout):
        while line := await stdout.readline():
            async with self._changed:
                self.lines.append(line.decode().rstrip("\n"))
                self._changed.notify_all()

    def count(self, pattern: str) -> int:
        return sum(bool(re.match(pattern, line)) for line in self.lines)

    async def wait_for(self, pattern: str, timeout: float, count: int = 1):
        """Waits until `count` lines match `pattern`."""

        async def enough():
            async with self._changed:
                await self._changed.wait_for(lambda: self.count(pattern) >= count)

        try:
            await asyncio.wait_for(enough(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"fewer than {count} lines like {pattern!r}:\n" + "\n".join(self.lines)) from None

    async def finish(self) -> str:
        await self._task
        return "\n".join(self.lines)


class ChatLog:
    """Every `lk.chat` text to a room as (sender, text), in the order their streams began
    arriving (each stream is read by a task of its own, so they may complete in another)."""

    def __init__(self, room: rtc.Room):
        self._slots = []
        self._changed = asyncio.Condition()
        room.register_text_stream_handler("lk.chat", self._on_chat)

    @property
    def received(self) -> list:
        return [slot for slot in self._slots if slot[1] is not None]

    def _on_chat(self, reader: rtc.TextStreamReader, sender_identity: str):
        index = len(self._slots)
        self._slots.append((sender_identity, None))

        async def read():
            text = await reader.read_all()
            async with self._changed:
                self._slots[index] = (sender_identity, text)
                self._changed.notify_all()

        asyncio.create_task(read())

    async def wait_for(self, count: int, timeout: float):
        async def enough():
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.received) >= count)

        try:
            await asyncio.wait_for(enough(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{len(self.received)} of {count} chat messages arrived: {self.received}") from None


async def explained(confab, lines: Lines, step):
    """Awaits `step`; when it fails, stops `confab join` and adds what it printed and logged."""
    try:
        return await step
    except AssertionError as error:
        confab.kill()
        log = (await confab.stderr.read()).decode()
        raise AssertionError(f"{error}\n--- confab join:\n" + "\n".join(lines.lines) + "\n" + log) from None


def test_an_outage_of_the_network_is_survived_by_resume_on_livekit_server(livekit_server):
    async def scenario():
        async with joined(livekit_server, "outage", "python") as python:
            video_arrived = on_subscribed(python, rtc.TrackKind.KIND_VIDEO)
            left = Event()
            python.on("participant_disconnected", lambda participant: left.set(participant.identity))
            chat = ChatLog(python)
            confab = await run_confab_join(
                livekit_server, "outage", "confab",
                "--wait-for", "python",
                "--test-media",
                "--chat-every", "0.5",
                netns=firewalled_namespace(),
            )
            lines = Lines(confab)
            video, _ = await video_arrived.wait("confab's video at python")
            before = await decoded_stamps(video, frames=10)
            await lines.wait_for(r"chat-sent ", DEADLINE_S)

            with outage_of_the_firewalled_host():
                await lines.wait_for(r"connection reconnecting$", RECOVERY_DEADLINE_S)
                # The outage lasts its time: this is the impairment, not a synchronisation.
                await asyncio.sleep(OUTAGE_S)
            await explained(confab, lines, lines.wait_for(r"connection (resumed|rejoined)$", RECOVERY_DEADLINE_S))
            resumed_at = time.monotonic()
            after = await explained(confab, lines, decoded_stamps(video, frames=10))
            assert min(after) > max(before), (before, after)
            # A few more ticks after the resume; every tick sent so far reaches the Python peer
            # before Confab leaves. The ticks of the outage wait in SCTP, whose retransmission
            # timer backed off while the network was down (up to its 60 s maximum: str0m does
            # not cap it the way libwebrtc caps its own at 3 s), so this may take a while.
            more = lines.wait_for(r"chat-sent ", DEADLINE_S, count=lines.count(r"chat-sent ") + 3)
            await explained(confab, lines, more)
            await explained(confab, lines, chat.wait_for(lines.count(r"chat-sent "), SCTP_BACKOFF_S))
            caught_up_s = time.monotonic() - resumed_at
            left_during_the_outage = left.value
            confab.send_signal(signal.SIGINT)
            output = await asyncio.wait_for(lines.finish(), DEADLINE_S)
            log = (await asyncio.wait_for(confab.stderr.read(), DEADLINE_S)).decode()
            artifacts = os.environ.get("CONFAB_ARTIFACTS", tempfile.gettempdir())
            with open(os.path.join(artifacts, "outage-confab-join.log"), "w") as saved:
                saved.write(output + "\n" + log)
            assert await asyncio.wait_for(confab.wait(), DEADLINE_S) == 0, output + log
            assert left_during_the_outage is None, f"python saw confab leave:\n{output}\n{log}"
            sent = lines.count(r"chat-sent ")
            try:
                await chat.wait_for(sent, DEADLINE_S)
            except AssertionError as error:
                raise AssertionError(f"{error}\n--- confab join:\n{output}\n{log}") from None

        assert "connection resumed" in output, output
        texts = [text for sender, text in chat.received if sender == "confab"]
        assert texts == [f"tick {n}" for n in range(1, sent + 1)], (texts, sent)
        print(
            f"{sent} chat messages, all delivered once in order (caught up {caught_up_s:.1f} s "
            f"after the resume); video counters {before[-1]} -> {after[0]}"
        )

    asyncio.run(scenario())
