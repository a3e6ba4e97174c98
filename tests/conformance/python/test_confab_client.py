"""Confab's client engine (`confab join`) beside LiveKit's Python SDK in one room.

The Python participant (libwebrtc) and `confab join` (str0m) exchange files over byte streams
and chat over `lk.chat` text streams, both ways: each side's own handlers must see the other's
file with the same SHA-256 and the chat text unchanged.

Media goes both ways too: `confab join --test-media` publishes the stamped test pattern (VP8,
three simulcast layers) and a tone (Opus); libwebrtc decodes them, and the frame counters drawn
in the pixels are read back from its decoded frames here. The Python peer publishes a tone and
video, which `confab join` decodes and summarises (`video-decoded …`, `audio-decoded …`).
"""

import asyncio
import hashlib
import os
import re
import signal
import tempfile

import numpy as np
import pytest
from livekit import rtc

from conftest import token
from test_livekit_rtc import (
    DEADLINE_S,
    Event,
    collect_chat,
    dominant_frequency,
    joined,
    on_subscribed,
    publish_colour,
    publish_tone,
    receive_one_file,
    wait_for_participants,
)

FILE_BYTES = 3 * 1024 * 1024


async def run_confab_join(server, room: str, identity: str, *flags: str, netns=None):
    """Starts `confab join` as `identity` (in network namespace `netns` when given); returns
    the process (stdout piped, lines of events)."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return await asyncio.create_subprocess_exec(
        *prefix,
        os.environ["CONFAB_BIN"],
        "join",
        server.ws_url,
        "--token",
        token(room, identity),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process, what: str) -> str:
    try:
        out, err = await asyncio.wait_for(process.communicate(), DEADLINE_S * 3)
    except asyncio.TimeoutError:
        process.kill()
        out, err = await process.communicate()
        raise AssertionError(f"{what} did not finish:\n{out.decode()}\n{err.decode()}") from None
    assert process.returncode == 0, f"{what} exited {process.returncode}:\n{out.decode()}\n{err.decode()}"
    return out.decode()


def test_files_and_chat_both_ways_with_the_python_sdk(confab_server):
    async def scenario():
        ours = os.urandom(FILE_BYTES)
        theirs = os.urandom(FILE_BYTES)
        with tempfile.TemporaryDirectory() as directory:
            our_path = os.path.join(directory, "from-confab.bin")
            their_path = os.path.join(directory, "from-python.bin")
            inbox = os.path.join(directory, "inbox")
            with open(our_path, "wb") as file:
                file.write(ours)
            with open(their_path, "wb") as file:
                file.write(theirs)
            async with joined(confab_server, "interop", "python") as python:
                # Media from libwebrtc to our engine: it must receive frames of both tracks
                # (decoding them is the media pipeline's job).
                pumps = [await publish_tone(python, 440), await publish_colour(python, (0, 0, 255))]
                file_at_python = receive_one_file(python, "files")
                chat_at_python = collect_chat(python)
                confab = await run_confab_join(
                    confab_server,
                    "interop",
                    "confab",
                    "--wait-for", "python",
                    "--chat", "hello from confab ✓",
                    "--send-file", our_path,
                    "--save-dir", inbox,
                    "--exit-after-files", "1",
                )
                await wait_for_participants(python, {"confab"})
                sender, name, digest = await file_at_python.wait("confab's file at python")
                assert (sender, name) == ("confab", "from-confab.bin")
                assert digest == hashlib.sha256(ours).hexdigest()
                assert await chat_at_python.wait("confab's chat at python") == (
                    "confab",
                    "hello from confab ✓",
                )
                # Only now answer: `confab join` leaves once it has a file, and a receiver
                # aborts a stream whose sender it sees leave (the departure travels on the
                # signalling connection and can overtake data still on its way).
                await python.local_participant.send_text("hello from python", topic="lk.chat")
                await asyncio.wait_for(
                    python.local_participant.send_file(their_path, topic="files"), DEADLINE_S
                )
                output = await finished(confab, "confab join")
                for pump in pumps:
                    pump.cancel()

            assert "chat from=python private=false hello from python" in output, output
            for kind, source in (("Audio", "Microphone"), ("Video", "Camera")):
                assert f"track-subscribed python {kind} {source} " in output, output
            assert_decoded_python_media(output, tone_hz=440)
            received = re.search(r"^file-received from=python bytes=(\d+) sha256=(\w+) .*path=(.+)$", output, re.M)
            assert received, output
            assert int(received.group(1)) == FILE_BYTES
            assert received.group(2) == hashlib.sha256(theirs).hexdigest()
            saved = received.group(3)
            assert saved == os.path.join(inbox, "from-python.bin")
            with open(saved, "rb") as file:
                assert file.read() == theirs
            assert os.listdir(inbox) == ["from-python.bin"], "no partial file left behind"

    asyncio.run(scenario())


def assert_decoded_python_media(output: str, tone_hz: int, codec: str = "vp8"):
    """`confab join` decoded the Python peer's video (in `codec`) and found its tone."""
    video = re.search(r"^video-decoded python TR_\w+ codec=(\w+) frames=(\d+) failed=(\d+) ", output, re.M)
    assert video and video.group(1) == codec and int(video.group(2)) > 0, output
    audio = re.search(r"^audio-decoded python TR_\w+ frames=(\d+) concealed=\d+ tone-hz=(\S+) ", output, re.M)
    assert audio and int(audio.group(1)) > 0, output
    assert audio.group(2) == str(tone_hz), output


async def python_sees_and_hears_confab(video_arrived, audio_arrived, tone_hz: int):
    """Once Confab's tracks reach the Python peer: libwebrtc decodes 30 of its frames with
    advancing stamps, and Confab's tone is the loudest frequency of its audio."""
    video, _ = await video_arrived.wait("confab's video at python")
    audio, _ = await audio_arrived.wait("confab's audio at python")
    counters = await decoded_stamps(video, frames=30)
    assert all(a < b for a, b in zip(counters, counters[1:])), counters
    peak, loudness = await dominant_frequency(audio)
    assert abs(peak - tone_hz) < 10 and loudness > 1_000, (peak, loudness)


def crc8(data: bytes) -> int:
    """CRC-8/I-432-1, as `confab_media::video::stamp` computes it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc ^ 0x55


def read_stamp(luma: np.ndarray):
    """The test pattern's stamp (16 x 4 cells over the top quarter) from a luma plane, as
    `confab_media::video::stamp::read` reads it: (counter, capture ms) or None."""
    height, width = luma.shape
    bits = []
    for bit in range(64):
        column, row = bit % 16, bit // 16
        left, right = column * width // 16, (column + 1) * width // 16
        top, bottom = row * height // 16, (row + 1) * height // 16
        dx, dy = (right - left) // 4, (bottom - top) // 4
        cell = luma[top + dy : max(bottom - dy, top + dy + 1), left + dx : max(right - dx, left + dx + 1)]
        bits.append(int(cell.sum()) // cell.size > 126)
    data = bytes(int("".join("1" if b else "0" for b in bits[i : i + 8]), 2) for i in range(0, 64, 8))
    if crc8(data[:7]) != data[7]:
        return None
    return int.from_bytes(data[:3], "big"), int.from_bytes(data[3:7], "big")


# livekit-server sends subscribers 8x8 VP8 blank frames of its own when a publisher's
# media stops (its DownTrack's blank frames, e.g. during an outage); they carry no stamp.
SERVER_BLANK_FRAME = (8, 8)


async def decoded_stamps(track: rtc.Track, frames: int) -> list:
    """Counters read from `frames` decoded frames of `track` (frames without a readable stamp
    fail the test, except the server's blank frames)."""
    return [counter for _, _, counter in await stamped_sizes(track, frames)]


async def stamped_sizes(track: rtc.Track, frames: int) -> list:
    """(width, height, counter) of `frames` decoded frames of `track`, as `decoded_stamps`
    reads them."""
    stream = rtc.VideoStream(track, format=rtc.VideoBufferType.I420)
    seen = []

    async def watch():
        async for event in stream:
            frame = event.frame
            if (frame.width, frame.height) == SERVER_BLANK_FRAME:
                continue
            luma = np.frombuffer(bytes(frame.data), dtype=np.uint8)[: frame.width * frame.height]
            stamp = read_stamp(luma.reshape(frame.height, frame.width))
            assert stamp is not None, f"no readable stamp in a {frame.width}x{frame.height} frame"
            seen.append((frame.width, frame.height, stamp[0]))
            if len(seen) >= frames:
                return

    try:
        # Generous: libwebrtc decoding 720p beside `confab join` encoding three layers shares
        # two cores with the SFU (one full-tier run timed out at 10 s; alone it takes ~2 s).
        await asyncio.wait_for(watch(), 3 * DEADLINE_S)
    except asyncio.TimeoutError:
        raise AssertionError(f"only {len(seen)} stamped frames decoded: {seen}") from None
    finally:
        await stream.aclose()
    return seen


def test_media_both_ways_with_the_python_sdk(confab_server):
    """libwebrtc decodes Confab's test pattern (counters advance) and hears its tone; Confab
    decodes the Python peer's video and hears its tone."""

    async def scenario():
        async with joined(confab_server, "media", "python") as python:
            pumps = [await publish_tone(python, 660), await publish_colour(python, (0, 0, 255))]
            video_arrived = on_subscribed(python, rtc.TrackKind.KIND_VIDEO)
            audio_arrived = on_subscribed(python, rtc.TrackKind.KIND_AUDIO)
            confab = await run_confab_join(
                confab_server, "media", "confab", "--test-media", "--tone-hz", "440",
                "--duration", "12",
            )
            await python_sees_and_hears_confab(video_arrived, audio_arrived, tone_hz=440)
            output = await finished(confab, "confab join")
            for pump in pumps:
                pump.cancel()
        assert_decoded_python_media(output, tone_hz=660)

    asyncio.run(scenario())


def test_h264_both_ways_with_the_python_sdk(confab_server):
    """Both ends publish H.264 (OpenH264 here, libwebrtc's encoder there) through our SFU:
    libwebrtc decodes Confab's stamped frames, Confab decodes the Python peer's H.264."""

    async def scenario():
        async with joined(confab_server, "h264", "python") as python:
            pumps = [
                await publish_tone(python, 660),
                await publish_colour(python, (0, 0, 255), codec=rtc.VideoCodec.H264),
            ]
            video_arrived = on_subscribed(python, rtc.TrackKind.KIND_VIDEO)
            audio_arrived = on_subscribed(python, rtc.TrackKind.KIND_AUDIO)
            confab = await run_confab_join(
                confab_server, "h264", "confab", "--test-media", "--video-codec", "h264",
                "--tone-hz", "440", "--duration", "12",
            )
            video, participant = await video_arrived.wait("confab's video at python")
            mime = participant.track_publications[video.sid].mime_type
            assert mime.lower() == "video/h264", mime
            await python_sees_and_hears_confab(video_arrived, audio_arrived, tone_hz=440)
            output = await finished(confab, "confab join")
            for pump in pumps:
                pump.cancel()
        assert_decoded_python_media(output, tone_hz=660, codec="h264")

    asyncio.run(scenario())


def test_replayed_load_video_loops_its_clip_for_the_python_sdk(confab_server):
    """`confab join --load-video` (the benchmarks' light publisher): libwebrtc decodes the
    replayed camera and screen share at their sizes, every frame stamped, and the 2 s clip
    starts over (its counters fall back)."""

    async def scenario():
        async with joined(confab_server, "load", "python") as python:
            tracks = {}
            both = Event()

            def on_track(track, publication, participant):
                if track.kind == rtc.TrackKind.KIND_VIDEO:
                    tracks[publication.source] = track
                    if len(tracks) == 2:
                        both.set()

            python.on("track_subscribed", on_track)
            confab = await run_confab_join(
                confab_server, "load", "confab",
                "--load-video", "camera:640x360", "--load-video", "screen:1280x720",
                "--duration", "14",
            )
            await both.wait("the replayed camera and screen share")
            camera, screen = await asyncio.gather(
                stamped_sizes(tracks[rtc.TrackSource.SOURCE_CAMERA], 90),
                stamped_sizes(tracks[rtc.TrackSource.SOURCE_SCREENSHARE], 90),
            )
            output = await finished(confab, "confab join")
        assert "replayed" in output, output
        for seen, size in ((camera, (640, 360)), (screen, (1280, 720))):
            assert {(w, h) for w, h, _ in seen} == {size}, seen
            counters = [c for _, _, c in seen]
            assert max(counters) < 60, counters
            assert any(b < a for a, b in zip(counters, counters[1:])), counters

    asyncio.run(scenario())


def test_rpc_both_ways_with_the_python_sdk(confab_server):
    """`confab join` calls the Python SDK's methods and answers its calls, errors included."""
    from livekit import rtc

    async def scenario():
        async with joined(confab_server, "rpc", "python") as python:
            async def reverse(call: rtc.RpcInvocationData) -> str:
                assert call.caller_identity == "confab"
                return call.payload[::-1]

            async def refuse(call: rtc.RpcInvocationData) -> str:
                raise rtc.RpcError(2002, "refused on purpose", call.payload)

            python.local_participant.register_rpc_method("reverse", reverse)
            python.local_participant.register_rpc_method("refuse", refuse)
            confab = await run_confab_join(
                confab_server,
                "rpc",
                "confab",
                "--wait-for", "python",
                "--rpc-echo",
                "--rpc-call", "python:reverse:hello:world",
                "--rpc-call", "python:refuse:because",
                "--rpc-call", "python:missing:x",
                "--duration", "10",
            )
            await wait_for_participants(python, {"confab"})
            answer = await asyncio.wait_for(
                python.local_participant.perform_rpc(
                    destination_identity="confab", method="echo", payload="ping ✓"
                ),
                DEADLINE_S,
            )
            assert answer == "ping ✓"
            try:
                await python.local_participant.perform_rpc(
                    destination_identity="confab", method="nope", payload=""
                )
                raise AssertionError("an unknown method must fail")
            except rtc.RpcError as error:
                assert error.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD, error
            output = await finished(confab, "confab join")

        assert "rpc-called from=python method=echo payload=ping ✓" in output, output
        assert "rpc-result dest=python method=reverse ok dlrow:olleh" in output, output
        assert "rpc-result dest=python method=refuse error=2002 refused on purpose" in output, output
        assert "rpc-result dest=python method=missing error=1400 " in output, output

    asyncio.run(scenario())
