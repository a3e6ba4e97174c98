"""Load for `cargo xtask bench sfu`: LiveKit's Python SDK as publishers and subscribers.

Prints `SERVER_READY` once the server accepts connections (nobody has joined yet), then joins
`--publishers` participants that each publish a tone (and, with `--video`, a 320x240
camera at 15 fps, no simulcast) and `--subscribers` participants that only receive. After a
warm-up it prints `MEASURE_START`, measures for `--seconds`, prints `MEASURE_END` and then
one JSON line: RTP packets and losses received by every participant during the window, from
WebRTC's own inbound statistics. The caller reads the server's CPU time and memory at the
two markers. The same load runs against any LiveKit-compatible server.
"""

import argparse
import asyncio
import json
import math
import socket
import sys
import time
from urllib.parse import urlparse

import numpy as np
from livekit import api, rtc

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 480
WIDTH, HEIGHT, FPS = 320, 240, 15


def token(args, identity: str, publish: bool) -> str:
    grants = api.VideoGrants(
        room_join=True, room=args.room, can_publish=publish, can_subscribe=True
    )
    return (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


async def publish(room: rtc.Room, index: int, video: bool) -> list:
    audio = rtc.AudioSource(SAMPLE_RATE, 1)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("tone", audio),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
    )

    async def tone():
        start = 0
        frequency = 300 + 50 * index
        while True:
            t = np.arange(start, start + FRAME_SAMPLES) / SAMPLE_RATE
            samples = (np.sin(2 * math.pi * frequency * t) * 8_000).astype(np.int16)
            start += FRAME_SAMPLES
            await audio.capture_frame(
                rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, FRAME_SAMPLES)
            )

    tasks = [asyncio.create_task(tone())]
    if video:
        source = rtc.VideoSource(WIDTH, HEIGHT)
        await room.local_participant.publish_track(
            rtc.LocalVideoTrack.create_video_track("camera", source),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False),
        )

        async def frames():
            frame_number = 0
            while True:
                shade = frame_number % 255
                image = bytearray([shade, 255 - shade, 128, 255] * (WIDTH * HEIGHT))
                source.capture_frame(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, image))
                frame_number += 1
                await asyncio.sleep(1 / FPS)

        tasks.append(asyncio.create_task(frames()))
    return tasks


async def inbound_totals(rooms: list) -> tuple:
    """(packets received, packets lost) over every inbound RTP stream of every room."""
    received = lost = 0
    for room in rooms:
        stats = await room.get_rtc_stats()
        # With a single peer connection (livekit-server's /rtc/v1) media arrives on the
        # "publisher" one; count inbound streams wherever they are.
        for report in [*stats.publisher_stats, *stats.subscriber_stats]:
            if report.WhichOneof("stats") == "inbound_rtp":
                inbound = report.inbound_rtp
                received += inbound.received.packets_received
                lost += max(inbound.received.packets_lost, 0)
    return received, lost


def wait_for_server(url: str, deadline_s: float = 30.0):
    """Until the server accepts TCP connections on the signalling port."""
    parsed = urlparse(url)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--room", default="bench")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--video", action="store_true")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    wait_for_server(args.url)
    print("SERVER_READY", flush=True)

    rooms, pumps = [], []
    try:
        for index in range(args.publishers):
            room = rtc.Room()
            await room.connect(args.url, token(args, f"pub-{index}", True))
            pumps += await publish(room, index, args.video)
            rooms.append(room)
        for index in range(args.subscribers):
            room = rtc.Room()
            await room.connect(args.url, token(args, f"sub-{index}", False))
            rooms.append(room)
        # Let every subscription negotiate and every encoder ramp up before measuring.
        await asyncio.sleep(args.warmup)
        before = await inbound_totals(rooms)
        print("MEASURE_START", flush=True)
        await asyncio.sleep(args.seconds)
        print("MEASURE_END", flush=True)
        after = await inbound_totals(rooms)
        received = after[0] - before[0]
        lost = after[1] - before[1]
        streams = args.publishers * (args.publishers - 1 + args.subscribers) * (
            2 if args.video else 1
        )
        print(
            json.dumps(
                {
                    "packets_received": received,
                    "packets_lost": lost,
                    "seconds": args.seconds,
                    "expected_streams": streams,
                }
            ),
            flush=True,
        )
        return 0
    finally:
        for pump in pumps:
            pump.cancel()
        for room in rooms:
            await room.disconnect()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
