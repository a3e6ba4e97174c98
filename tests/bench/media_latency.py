"""Latency measurements for `cargo xtask bench media`, between two `confab join` processes
through one server (run in the private test network's client host; the server in another).

- Glass-to-glass: a publisher sends the stamped 1280x720 test pattern (`--test-media`); a
  viewer decodes it and reports, per decoded frame, its age: the time from the capture time
  drawn into the pixels to the frame decoded (both on this machine's clock). The viewer's
  `video-decoded` summary gives p50 and p95.
- Mouth-to-ear: a private PulseAudio whose one stereo null sink `bench` carries both ends of
  the path. Its left channel is the mouth: tone bursts are played into it (through the
  remapped sink `mouth`), and the publisher's microphone (`confab join --microphone mic`,
  with echo cancellation, noise suppression and gain control) is the remapped source of
  `bench.monitor`'s left channel. Its right channel is the ear: the viewer plays everything
  it receives (`--speaker ear`, the remapped sink of `bench`'s right channel). One recording
  of `bench.monitor` holds both channels sample-aligned, so each burst's delay from the left
  to the right channel is the whole path: capture, processing, Opus, the network, the
  server, the jitter buffer, decoding, mixing and the speaker's device buffer. (Not included:
  a real sound card's converters, typically a few milliseconds each way.)

  The listener ends with SIGINT, so it prints what its jitter buffer did (`audio-played`):
  how long the last packet waited there, and the buffer's target.

Prints `SAMPLE <g2g|m2e> <what> <value>` lines.
"""

import argparse
import asyncio
import os
import shutil
import signal as signals
import subprocess
import tempfile
import time

import numpy as np

from client_bench import token
from sfu_load import wait_for_server

RATE = 48_000
BURST_S, BURST_EVERY_S, BURSTS = 0.06, 0.8, 14
DEADLINE_S = 30


def sample(kind: str, what: str, value):
    print(f"SAMPLE {kind} {what} {value}", flush=True)


async def start(command, env=None):
    return await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=None if os.environ.get("CONFAB_BENCH_DEBUG") else asyncio.subprocess.DEVNULL, env=env,
    )


async def wait_for_line(process, marker: bytes) -> bytes:
    async def read():
        while True:
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"the process ended before printing {marker!r}")
            if marker in line:
                return line
    return await asyncio.wait_for(read(), DEADLINE_S)


async def stop(process):
    if process.returncode is None:
        process.kill()
    await process.wait()


def fields(line: str) -> dict:
    return dict(word.split("=", 1) for word in line.split() if "=" in word)


async def glass_to_glass(args):
    room = "glass"
    publisher = await start([args.confab, "join", args.url, "--token",
                             token(args, room, "camera"), "--test-media", "--duration", "60"])
    try:
        await wait_for_line(publisher, b"published camera=")
        viewer = await start([args.confab, "join", args.url, "--token",
                              token(args, room, "viewer"), "--duration", str(args.seconds)])
        output, _ = await asyncio.wait_for(viewer.communicate(), args.seconds + DEADLINE_S)
    finally:
        await stop(publisher)
    summaries = [line for line in output.decode().splitlines()
                 if line.startswith("video-decoded camera ")]
    if not summaries:
        raise RuntimeError("the viewer decoded no video from the camera")
    summary = fields(summaries[0])
    sample("g2g", "p50", summary["age-p50-ms"])
    sample("g2g", "p95", summary["age-p95-ms"])
    sample("g2g", "count", summary["stamped"])
    sample("g2g", "size", summary["size"])


class Pulse:
    """A private PulseAudio server with the `bench` sink and its mouth, ear and mic."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="confab-latency-pulse-")
        socket = os.path.join(self.dir, "native")
        script = os.path.join(self.dir, "server.pa")
        with open(script, "w") as file:
            file.write(
                f"load-module module-native-protocol-unix socket={socket} auth-anonymous=1\n"
                f"load-module module-null-sink sink_name=bench rate={RATE} channels=2 "
                f"channel_map=front-left,front-right\n"
                f"load-module module-remap-sink sink_name=mouth master=bench channels=1 "
                f"channel_map=mono master_channel_map=front-left remix=no\n"
                f"load-module module-remap-sink sink_name=ear master=bench channels=1 "
                f"channel_map=mono master_channel_map=front-right remix=no\n"
                f"load-module module-remap-source source_name=mic master=bench.monitor "
                f"channels=1 channel_map=mono master_channel_map=front-left remix=no\n"
                f"load-module module-null-sink sink_name=idle\n"
                f"set-default-sink idle\n"
            )
        # The clients find the server by its socket alone (with their own HOME, as a user's
        # app would); the server and pactl keep their state in the private folder.
        self.client_env = {**os.environ, "PULSE_SERVER": f"unix:{socket}"}
        self.env = {**self.client_env, "HOME": self.dir, "XDG_RUNTIME_DIR": self.dir,
                    "XDG_CONFIG_HOME": self.dir}
        self.process = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "-F", script], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE_S
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("pulseaudio did not start")
            time.sleep(0.05)  # polling a server that is starting

    def close(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bursts() -> np.ndarray:
    """Silence with a 60 ms 800 Hz burst (raised-cosine edges) every 0.8 s, as s16le mono."""
    total = np.zeros(int(RATE * (BURSTS + 2) * BURST_EVERY_S), dtype=np.float64)
    n = int(RATE * BURST_S)
    t = np.arange(n) / RATE
    window = np.minimum(1.0, np.minimum(t, BURST_S - t) / 0.005)
    burst = 0.5 * np.sin(2 * np.pi * 800 * t) * window
    for index in range(BURSTS):
        start_at = int(RATE * (1.0 + index * BURST_EVERY_S))
        total[start_at:start_at + n] = burst
    return (total * 32767).astype("<i2")


def onsets(channel: np.ndarray) -> list:
    """Sample indices where the 5 ms envelope first rises above a quarter of its maximum."""
    envelope = np.convolve(np.abs(channel.astype(np.float64)), np.ones(240) / 240, "same")
    threshold = envelope.max() / 4
    if threshold <= 0:
        return []
    above = envelope > threshold
    rising = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    found, last = [], -RATE
    for index in rising:
        if index - last > RATE * BURST_EVERY_S / 2:  # one onset per burst
            found.append(int(index))
            last = index
    return found


async def mouth_to_ear(args):
    pulse = Pulse()
    room = "ear"
    processes = []
    try:
        viewer = await start([args.confab, "join", args.url, "--token",
                              token(args, room, "listener"), "--speaker", "ear",
                              "--duration", "90"], env=pulse.client_env)
        processes.append(viewer)
        await wait_for_line(viewer, b"playing device=ear")
        talker = await start([args.confab, "join", args.url, "--token",
                              token(args, room, "talker"), "--microphone", "mic",
                              "--duration", "90"], env=pulse.client_env)
        processes.append(talker)
        await wait_for_line(talker, b"published microphone=")
        await wait_for_line(viewer, b"track-subscribed talker")
        recorder = await start(["parec", "-d", "bench.monitor", "--raw", "--format=s16le",
                                f"--rate={RATE}", "--channels=2", "--latency-msec=10"],
                               env=pulse.env)
        processes.append(recorder)
        chunks = []

        async def record():
            while chunk := await recorder.stdout.read(1 << 16):
                chunks.append(chunk)

        recording = asyncio.create_task(record())
        signal = bursts()
        player = await asyncio.create_subprocess_exec(
            "pacat", "-d", "mouth", "--raw", "--format=s16le", f"--rate={RATE}",
            "--channels=1", "--latency-msec=10", stdin=asyncio.subprocess.PIPE, env=pulse.env)
        processes.append(player)
        player.stdin.write(signal.tobytes())
        await player.stdin.drain()
        player.stdin.close()
        await asyncio.wait_for(player.wait(), len(signal) / RATE + DEADLINE_S)
        # The signal ends with a second of silence: the last burst is through the path by now.
        await stop(recorder)
        await recording
        viewer.send_signal(signals.SIGINT)
        summary = await wait_for_line(viewer, b"audio-played talker ")
        played = fields(summary.decode())
        sample("m2e", "jitter-wait", played["wait-ms"])
        sample("m2e", "jitter-target", played["target-ms"])
        sample("m2e", "jitter-dropped", played["dropped"])
        sample("m2e", "concealed", played["concealed"])
    finally:
        for process in processes:
            await stop(process)
        pulse.close()
    data = b"".join(chunks)
    stereo = np.frombuffer(data[: len(data) // 4 * 4], dtype="<i2").reshape(-1, 2)
    mouth, ear = onsets(stereo[:, 0]), onsets(stereo[:, 1])
    delays = []
    for sent in mouth:
        later = [heard for heard in ear if 0 < heard - sent < RATE * BURST_EVERY_S / 2]
        if later:
            delays.append((later[0] - sent) * 1000 / RATE)
    if len(delays) < BURSTS // 2:
        raise RuntimeError(f"only {len(delays)} of {len(mouth)} bursts came out of the ear")
    delays.sort()
    sample("m2e", "p50", f"{np.percentile(delays, 50):.1f}")
    sample("m2e", "p95", f"{np.percentile(delays, 95):.1f}")
    sample("m2e", "count", len(delays))


async def main(args):
    wait_for_server(args.url)
    await glass_to_glass(args)
    await mouth_to_ear(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--confab", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
