"""Client measurements for `cargo xtask bench client`: Confab's engine (`confab join`) beside
LiveKit's Python SDK (libwebrtc), the same work against the same server in the same run.

- Join time: a participant connects and waits for the first frame of a video track that is
  already being published (by a Python participant sending 640x360 VP8 at 30 fps). For the
  Python SDK: from `Room.connect()` to the first decoded frame of its `VideoStream`. For
  Confab: from the start of `Room::connect` to the first decoded frame, as `confab join`
  reports it (`first-video-frame … ms=`).
- File throughput: one sender, one receiver, a file of `--file-mb` MB over byte streams
  through the server. Timed at the receiver, from the stream's header to the last byte
  (Python) or to the file saved and its SHA-256 checked (Confab: `file-received … ms=`).

- Publishing CPU: one process publishes 1280x720 at 30 fps in three simulcast layers (VP8)
  of moving content while a Python participant subscribes to it (so the server wants every
  layer); the publisher's own CPU time (user + system, all threads, from /proc) over a window
  after a warm-up, as CPU-seconds per minute. Confab: `confab join --test-media` (its stamped
  test pattern; the tone is published too). Python: `--publish-pattern` below, the same kind
  of pattern prepared as I420 frames beforehand, so only the SDK's work is measured.
  Chromium: LiveKit's browser SDK (`livekit-client`, `enableCameraAndMicrophone`: 1280x720
  simulcast and a microphone from Chromium's fake devices) in headless Chromium through
  `tests/conformance/browser/peer.mjs`; the CPU of its whole process tree (browser, renderer,
  GPU and utility processes, and node driving it).

Rounds alternate between the two clients. Prints one line per sample:
`SAMPLE <join|file|publish-cpu> <confab|python|chromium> <value>` (milliseconds; CPU-seconds per
minute), and `FILE_BYTES <n>`.
"""

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time

import numpy as np

from livekit import api, rtc
from sfu_load import wait_for_server

WIDTH, HEIGHT, FPS = 640, 360, 30
PLI_THROTTLE_S = 1.5
PUBLISH_WIDTH, PUBLISH_HEIGHT = 1280, 720
PUBLISH_WARMUP_S, PUBLISH_WINDOW_S = 5, 30
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER_SCRIPT = os.path.join(ROOT, "tests", "conformance", "browser", "peer.mjs")
NODE_MODULES = os.path.join(ROOT, "tools", "node_modules")


def token(args, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


async def connect(args, room_name: str, identity: str) -> rtc.Room:
    room = rtc.Room()
    await room.connect(args.url, token(args, room_name, identity))
    return room


async def publish_video(room: rtc.Room) -> asyncio.Task:
    source = rtc.VideoSource(WIDTH, HEIGHT)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=True)
    )
    image = bytearray(WIDTH * HEIGHT * 4)

    async def pump():
        counter = 0
        while True:
            counter += 1
            image[0:4] = bytes([counter % 256, 0, 0, 255])
            source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, image))
            await asyncio.sleep(1 / FPS)

    return asyncio.create_task(pump())


async def python_join_ms(args, room_name: str, identity: str) -> float:
    started = time.perf_counter()
    room = rtc.Room()
    first_frame = asyncio.get_running_loop().create_future()

    def on_track(track, publication, participant):
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            async def read():
                async for _ in rtc.VideoStream(track):
                    if not first_frame.done():
                        first_frame.set_result(time.perf_counter())
                    break

            asyncio.create_task(read())

    room.on("track_subscribed", on_track)
    await room.connect(args.url, token(args, room_name, identity))
    arrived = await asyncio.wait_for(first_frame, 30)
    await room.disconnect()
    return (arrived - started) * 1e3


async def confab_join_ms(args, room_name: str, identity: str) -> float:
    process = await asyncio.create_subprocess_exec(
        args.confab, "join", args.url, "--token", token(args, room_name, identity),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            if not line:
                raise RuntimeError("confab join ended before a video frame arrived")
            found = re.match(rb"first-video-frame \S+ ms=([\d.]+)", line)
            if found:
                return float(found.group(1))
    finally:
        process.send_signal(2)  # SIGINT: leave the room
        await process.wait()


async def until_present(room: rtc.Room, identity: str):
    arrived = asyncio.get_running_loop().create_future()

    def on_join(participant):
        if participant.identity == identity and not arrived.done():
            arrived.set_result(None)

    room.on("participant_connected", on_join)
    if identity not in room.remote_participants:
        await asyncio.wait_for(arrived, 30)


def sample(kind: str, client: str, ms: float):
    print(f"SAMPLE {kind} {client} {ms:.1f}", flush=True)


async def python_file_ms(args, room_name: str, path: str) -> float:
    sender = await connect(args, room_name, "py-sender")
    receiver = await connect(args, room_name, "py-receiver")
    done = asyncio.get_running_loop().create_future()

    def on_file(reader: rtc.ByteStreamReader, sender_identity: str):
        async def read():
            started = time.perf_counter()
            size = 0
            async for chunk in reader:
                size += len(chunk)
            done.set_result(((time.perf_counter() - started) * 1e3, size))

        asyncio.create_task(read())

    receiver.register_byte_stream_handler("bench", on_file)
    await until_present(sender, "py-receiver")
    await sender.local_participant.send_file(path, topic="bench")
    ms, size = await asyncio.wait_for(done, 300)
    assert size == os.path.getsize(path), (size, path)
    await sender.disconnect()
    await receiver.disconnect()
    return ms


async def read_through(process, marker: bytes) -> bytes:
    """The process's output up to and including the first line holding `marker`."""
    lines = []
    while not lines or marker not in lines[-1]:
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the process ended before printing {marker!r}: {b''.join(lines)!r}")
        lines.append(line)
    return b"".join(lines)


async def confab_file_ms(args, room_name: str, path: str, inbox: str) -> float:
    receiver = await asyncio.create_subprocess_exec(
        args.confab, "join", args.url, "--token", token(args, room_name, "cf-receiver"),
        "--topic", "bench", "--save-dir", inbox, "--exit-after-files", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    # The sender starts once the receiver's transport is up (it prints `joined` then), as the
    # Python round's sender waits for a connected receiver. Started together, the sender can
    # see the receiver announced and send before the server can deliver to it: byte streams
    # have no acknowledgement, so that file is lost and the round waits for it in vain.
    head = await asyncio.wait_for(read_through(receiver, b"joined "), 30)
    sender = await asyncio.create_subprocess_exec(
        args.confab, "join", args.url, "--token", token(args, room_name, "cf-sender"),
        "--topic", "bench", "--wait-for", "cf-receiver", "--send-file", path, "--duration", "300",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    rest, _ = await asyncio.wait_for(receiver.communicate(), 300)
    out = head + rest
    sender.send_signal(2)
    await sender.wait()
    found = re.search(rb"file-received from=cf-sender bytes=(\d+) .* ms=([\d.]+) ", out)
    if not found or int(found.group(1)) != os.path.getsize(path):
        raise RuntimeError(f"confab's file did not arrive whole: {out!r}")
    for name in os.listdir(inbox):
        os.remove(os.path.join(inbox, name))
    return float(found.group(2))


def pattern_frames(count: int) -> list:
    """I420 frames of a gradient with a bar moving across it (like Confab's test pattern)."""
    w, h = PUBLISH_WIDTH, PUBLISH_HEIGHT
    luma = (48 + (np.add.outer(np.arange(h) * 96 // h, np.arange(w) * 96 // w)) // 2).astype(np.uint8)
    chroma = np.full(((h + 1) // 2) * ((w + 1) // 2) * 2, 128, dtype=np.uint8).tobytes()
    bar = w // 16
    frames = []
    for index in range(count):
        y = luma.copy()
        left = index * (w - bar) // (count - 1)
        y[h // 4 :, left : left + bar] = 220
        frames.append(y.tobytes() + chroma)
    return frames


async def publish_pattern(args):
    """`--publish-pattern`: publish 720p30 simulcast until killed (a process of its own, so its
    CPU time is the SDK's alone)."""
    room = rtc.Room()
    await room.connect(args.url, token(args, args.room, args.identity))
    source = rtc.VideoSource(PUBLISH_WIDTH, PUBLISH_HEIGHT)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=True)
    await room.local_participant.publish_track(track, options)
    frames = pattern_frames(60)
    print("PUBLISHING", flush=True)
    started = time.perf_counter()
    for index in range(10**9):
        frame = rtc.VideoFrame(
            PUBLISH_WIDTH, PUBLISH_HEIGHT, rtc.VideoBufferType.I420, frames[index % len(frames)]
        )
        source.capture_frame(frame)
        # The camera's clock: the next frame is due at a fixed rate.
        await asyncio.sleep(max(0.0, started + (index + 1) / FPS - time.perf_counter()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of process `root` and every process below it (Chromium's)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
    def below(pid):
        while pid in parents:
            if pid == root:
                return True
            pid = parents[pid]
        return False
    total = 0.0
    for pid in [pid for pid in parents if below(pid)]:
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total


async def publisher_cpu_per_minute(args, command: list, ready: bytes, room_name: str,
                                   cpu=cpu_seconds, env=None, quit_line=None) -> float:
    watcher = await connect(args, room_name, "watcher")
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.PIPE, env=env,
    )
    try:
        while ready not in await asyncio.wait_for(process.stdout.readline(), 30):
            pass
        # The measurement window: warm-up first (encoders and the bandwidth estimate settle).
        await asyncio.sleep(PUBLISH_WARMUP_S)
        before = cpu(process.pid)
        await asyncio.sleep(PUBLISH_WINDOW_S)
        used = cpu(process.pid) - before
        if process.returncode is not None:
            raise RuntimeError("the publisher ended during the measurement")
        return used * 60 / PUBLISH_WINDOW_S
    finally:
        if quit_line is not None:
            # Asked to quit, the browser driver closes Chromium (a killed driver would leave
            # its processes behind).
            with contextlib.suppress(Exception):
                process.stdin.write(quit_line)
                await process.stdin.drain()
                await asyncio.wait_for(process.wait(), 15)
        if process.returncode is None:
            process.kill()
            await process.wait()
        await watcher.disconnect()


async def main(args):
    wait_for_server(args.url)
    for round_ in range(args.publish_rounds):
        room_name = f"publish-{round_}"
        python = [sys.executable, __file__, "--publish-pattern", "--url", args.url,
                  "--api-key", args.api_key, "--api-secret", args.api_secret,
                  "--confab", args.confab, "--room", room_name, "--identity", "py-publisher"]
        sample("publish-cpu", "python", await publisher_cpu_per_minute(args, python, b"PUBLISHING", room_name))
        confab = [args.confab, "join", args.url, "--token", token(args, room_name, "cf-publisher"),
                  "--test-media", "--duration", "120"]
        sample("publish-cpu", "confab", await publisher_cpu_per_minute(args, confab, b"published camera=", room_name))
        chromium = ["node", PEER_SCRIPT, args.url, token(args, room_name, "chromium-publisher")]
        env = {**os.environ, "CONFAB_NODE_MODULES": NODE_MODULES, "CONFAB_VIDEO_CODEC": "vp8"}
        sample("publish-cpu", "chromium", await publisher_cpu_per_minute(
            args, chromium, b'"joined"', room_name, cpu=tree_cpu_seconds, env=env,
            quit_line=b'{"cmd": "quit"}\n'))

    source = await connect(args, "join", "source")
    pump = await publish_video(source)
    # A warm-up, not a synchronisation: the source's encoder settles before round one.
    await asyncio.sleep(2)
    for round_ in range(args.rounds):
        for client, join_ms in (("python", python_join_ms), ("confab", confab_join_ms)):
            # A new subscriber waits for a keyframe, and livekit-server sends the publisher at
            # most one keyframe request per second per track: back-to-back joins would measure
            # that throttle (about 1.1 s each), not the client. Space them beyond it.
            await asyncio.sleep(PLI_THROTTLE_S)
            sample("join", client, await join_ms(args, "join", f"{client}-{round_}"))
    pump.cancel()
    await source.disconnect()

    print(f"FILE_BYTES {args.file_mb * 1024 * 1024}", flush=True)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "payload.bin")
        with open(path, "wb") as file:
            file.write(os.urandom(args.file_mb * 1024 * 1024))
        inbox = os.path.join(directory, "inbox")
        os.mkdir(inbox)
        for round_ in range(args.file_rounds):
            sample("file", "python", await python_file_ms(args, f"file-py-{round_}", path))
            sample("file", "confab", await confab_file_ms(args, f"file-cf-{round_}", path, inbox))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--confab", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--file-mb", type=int, default=20)
    parser.add_argument("--file-rounds", type=int, default=3)
    parser.add_argument("--publish-rounds", type=int, default=2)
    parser.add_argument("--publish-pattern", action="store_true")
    parser.add_argument("--room")
    parser.add_argument("--identity")
    arguments = parser.parse_args()
    asyncio.run(publish_pattern(arguments) if arguments.publish_pattern else main(arguments))
