"""Client measurements for `cargo xtask bench client`: Confab's engine (`confab join`) beside
LiveKit's Python SDK (libwebrtc), the same work against the same server in the same run.

- Join time: a participant connects and waits for the first frame of a video track that is
  already being published (by a Python participant sending 640x360 VP8 at 30 fps). For the
  Python SDK: from `Room.connect()` to the first decoded frame of its `VideoStream`. For
  Confab: from the start of `Room::connect` to the first *encoded* frame (Confab has no video
  decoder yet), as `confab join` reports it (`first-video-frame … ms=`).
- File throughput: one sender, one receiver, a file of `--file-mb` MB over byte streams
  through the server. Timed at the receiver, from the stream's header to the last byte
  (Python) or to the file saved and its SHA-256 checked (Confab: `file-received … ms=`).

Rounds alternate between the two clients. Prints one line per sample:
`SAMPLE <join|file> <confab|python> <milliseconds>`, and `FILE_BYTES <n>`.
"""

import argparse
import asyncio
import os
import re
import tempfile
import time

from livekit import api, rtc
from sfu_load import wait_for_server

WIDTH, HEIGHT, FPS = 640, 360, 30
PLI_THROTTLE_S = 1.5


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


async def confab_file_ms(args, room_name: str, path: str, inbox: str) -> float:
    receiver = await asyncio.create_subprocess_exec(
        args.confab, "join", args.url, "--token", token(args, room_name, "cf-receiver"),
        "--topic", "bench", "--save-dir", inbox, "--exit-after-files", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    sender = await asyncio.create_subprocess_exec(
        args.confab, "join", args.url, "--token", token(args, room_name, "cf-sender"),
        "--topic", "bench", "--wait-for", "cf-receiver", "--send-file", path, "--duration", "300",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(receiver.communicate(), 300)
    sender.send_signal(2)
    await sender.wait()
    found = re.search(rb"file-received from=cf-sender bytes=(\d+) .* ms=([\d.]+) ", out)
    if not found or int(found.group(1)) != os.path.getsize(path):
        raise RuntimeError(f"confab's file did not arrive whole: {out!r}")
    for name in os.listdir(inbox):
        os.remove(os.path.join(inbox, name))
    return float(found.group(2))


async def main(args):
    wait_for_server(args.url)
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
    asyncio.run(main(parser.parse_args()))
