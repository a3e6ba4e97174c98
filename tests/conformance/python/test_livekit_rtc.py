"""LiveKit's Python realtime SDK (`livekit`, libwebrtc underneath) against `confab server`.

Participants publish a sine tone and synthetic video, exchange data, chat, files and RPCs, and
are moderated through the RoomService. Each assertion checks what arrived: the tone's frequency,
decoded frames of the right size and colour, bytes with equal hashes, and the events LiveKit's
own SDK raises.

These run only inside the test network `cargo xtask test` builds (libwebrtc ignores loopback).
"""

import asyncio
import contextlib
import hashlib
import math
import os
import tempfile

import numpy as np
from livekit import api, rtc

from conftest import API_KEY, API_SECRET, has_testnet, token

DEADLINE_S = 20.0
SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 480  # 10 ms
VIDEO_WIDTH, VIDEO_HEIGHT = 320, 240

@contextlib.asynccontextmanager
async def joined(server, room_name: str, identity: str, **grants):
    assert has_testnet(), (
        "run through `cargo xtask test`: libwebrtc ignores loopback, so these tests need its "
        "test network"
    )
    room = rtc.Room()
    await asyncio.wait_for(
        room.connect(server.ws_url, token(room_name, identity, **grants)), DEADLINE_S
    )
    try:
        yield room
    finally:
        await room.disconnect()


@contextlib.asynccontextmanager
async def alice_and_bob(server, room_name: str):
    """LiveKit's RoomService client and two participants, alice then bob, in one room."""
    async with api.LiveKitAPI(server.http_url, API_KEY, API_SECRET) as lk, joined(
        server, room_name, "alice"
    ) as alice, joined(server, room_name, "bob") as bob:
        yield lk, alice, bob


class Event:
    """An asyncio event carrying the value it was set with."""

    def __init__(self):
        self._event = asyncio.Event()
        self.value = None

    def set(self, value=True):
        if not self._event.is_set():
            self.value = value
            self._event.set()

    async def wait(self, what: str):
        try:
            await asyncio.wait_for(self._event.wait(), DEADLINE_S)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None
        return self.value


async def publish_tone(room: rtc.Room, frequency: float) -> asyncio.Task:
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await room.local_participant.publish_track(track, options)

    async def pump():
        start = 0
        while True:
            t = np.arange(start, start + SAMPLES_PER_FRAME) / SAMPLE_RATE
            samples = (np.sin(2 * math.pi * frequency * t) * 12_000).astype(np.int16)
            start += SAMPLES_PER_FRAME
            frame = rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, SAMPLES_PER_FRAME)
            # capture_frame paces itself to real time.
            await source.capture_frame(frame)

    return asyncio.create_task(pump())


async def publish_tone_track(room: rtc.Room, frequency: float):
    """Like `publish_tone`, also returning the local track (to mute it)."""
    pump = await publish_tone(room, frequency)
    publication = next(iter(room.local_participant.track_publications.values()))
    return pump, publication


async def publish_colour(
    room: rtc.Room, rgb: tuple, simulcast: bool = True, codec=rtc.VideoCodec.VP8
) -> asyncio.Task:
    source = rtc.VideoSource(VIDEO_WIDTH, VIDEO_HEIGHT)
    track = rtc.LocalVideoTrack.create_video_track("camera", source)
    options = rtc.TrackPublishOptions(
        source=rtc.TrackSource.SOURCE_CAMERA, simulcast=simulcast, video_codec=codec
    )
    await room.local_participant.publish_track(track, options)
    pixel = bytes([*rgb, 255])
    image = bytearray(pixel * (VIDEO_WIDTH * VIDEO_HEIGHT))

    async def pump():
        while True:
            frame = rtc.VideoFrame(VIDEO_WIDTH, VIDEO_HEIGHT, rtc.VideoBufferType.RGBA, image)
            source.capture_frame(frame)
            await asyncio.sleep(1 / 30)

    return asyncio.create_task(pump())


def on_subscribed(room: rtc.Room, kind) -> Event:
    arrived = Event()

    def handler(track, publication, participant):
        if track.kind == kind:
            arrived.set((track, participant))

    room.on("track_subscribed", handler)
    return arrived


async def dominant_frequency(track: rtc.Track, seconds: float = 1.0) -> tuple:
    """Listens to `track` for `seconds` after the first non-silent frame: (peak Hz, RMS)."""
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    collected = []
    wanted = int(SAMPLE_RATE * seconds)

    async def listen():
        total = 0
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            if not collected and np.abs(samples).max() < 100:
                continue  # jitter buffer still filling
            collected.append(samples)
            total += len(samples)
            if total >= wanted:
                return

    try:
        await asyncio.wait_for(listen(), DEADLINE_S)
    finally:
        await stream.aclose()
    signal = np.concatenate(collected)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    peak = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))]
    return float(peak), float(np.sqrt(np.mean(signal**2)))


class AudioListener:
    """Reads a remote audio track in the background, counting frames and their loudness."""

    def __init__(self, track: rtc.Track):
        self.stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        self.frames = 0
        self.loud_frames = 0
        self.task = asyncio.create_task(self._listen())

    async def _listen(self):
        async for event in self.stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            self.frames += 1
            if np.sqrt(np.mean(samples**2)) > 1_000:
                self.loud_frames += 1

    async def until(self, what: str, condition):
        """Polls the counters until `condition(self)` holds."""
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while not condition(self):
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def until_stalled(self, what: str, quiet_s: float = 0.5):
        """Until no frame has arrived for `quiet_s` (the track stopped flowing)."""
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while True:
            before = self.frames
            # Absence can only be observed over an interval.
            await asyncio.sleep(quiet_s)
            if self.frames == before:
                return
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"

    async def close(self):
        self.task.cancel()
        await self.stream.aclose()


async def decoded_colour(track: rtc.Track, frames: int = 10) -> tuple:
    """Decodes `frames` frames of `track`: (width, height, RGB at the centre of the last)."""
    stream = rtc.VideoStream(track, format=rtc.VideoBufferType.RGBA)
    last = None

    async def watch():
        nonlocal last
        count = 0
        async for event in stream:
            last = event.frame
            count += 1
            if count >= frames:
                return

    try:
        await asyncio.wait_for(watch(), DEADLINE_S)
    finally:
        await stream.aclose()
    centre = ((last.height // 2) * last.width + last.width // 2) * 4
    return last.width, last.height, tuple(bytes(last.data)[centre : centre + 3])


def assert_colour_close(actual: tuple, expected: tuple):
    # VP8 and the YUV round trip shift colours a little.
    assert all(abs(a - e) < 40 for a, e in zip(actual, expected)), (actual, expected)


def test_two_participants_hear_and_see_each_other(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "av") as (_, alice, bob):
            alice_hears = on_subscribed(alice, rtc.TrackKind.KIND_AUDIO)
            alice_sees = on_subscribed(alice, rtc.TrackKind.KIND_VIDEO)
            bob_hears = on_subscribed(bob, rtc.TrackKind.KIND_AUDIO)
            bob_sees = on_subscribed(bob, rtc.TrackKind.KIND_VIDEO)
            pumps = [
                await publish_tone(alice, 440.0),
                await publish_colour(alice, (230, 30, 30)),
                await publish_tone(bob, 660.0),
                await publish_colour(bob, (30, 30, 230)),
            ]
            try:
                track, sender = await bob_hears.wait("bob to subscribe to alice's audio")
                assert sender.identity == "alice"
                peak, rms = await dominant_frequency(track)
                assert abs(peak - 440.0) < 10, peak
                assert rms > 1_000, rms

                track, _ = await alice_hears.wait("alice to subscribe to bob's audio")
                peak, rms = await dominant_frequency(track)
                assert abs(peak - 660.0) < 10, peak
                assert rms > 1_000, rms

                track, _ = await bob_sees.wait("bob to subscribe to alice's video")
                width, height, colour = await decoded_colour(track)
                assert (width, height) == (VIDEO_WIDTH, VIDEO_HEIGHT)
                assert_colour_close(colour, (230, 30, 30))

                track, _ = await alice_sees.wait("alice to subscribe to bob's video")
                width, height, colour = await decoded_colour(track)
                assert (width, height) == (VIDEO_WIDTH, VIDEO_HEIGHT)
                assert_colour_close(colour, (30, 30, 230))
            finally:
                for pump in pumps:
                    pump.cancel()

    asyncio.run(scenario())


def test_the_speaking_participant_is_announced_and_unannounced(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "talk") as (_, alice, bob):
            speaking, silent = Event(), Event()

            def on_speakers(speakers):
                identities = {participant.identity for participant in speakers}
                if "alice" in identities:
                    speaking.set()
                elif speaking._event.is_set():
                    silent.set()

            bob.on("active_speakers_changed", on_speakers)
            pump = await publish_tone(alice, 300.0)
            try:
                await speaking.wait("bob to see alice speaking")
            finally:
                pump.cancel()
            await silent.wait("bob to see alice stop speaking")

    asyncio.run(scenario())


def test_mute_by_the_publisher_and_by_the_room_service(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "mute") as (lk, alice, bob):
            bob_hears = on_subscribed(bob, rtc.TrackKind.KIND_AUDIO)
            states = asyncio.Queue()
            bob.on("track_muted", lambda participant, publication: states.put_nowait("muted"))
            bob.on("track_unmuted", lambda participant, publication: states.put_nowait("unmuted"))

            async def next_state():
                return await asyncio.wait_for(states.get(), DEADLINE_S)

            pump, publication = await publish_tone_track(alice, 400.0)
            try:
                await bob_hears.wait("bob to hear alice")
                publication.track.mute()
                assert await next_state() == "muted"
                publication.track.unmute()
                assert await next_state() == "unmuted"

                await lk.room.mute_published_track(
                    api.MuteRoomTrackRequest(
                        room="mute", identity="alice", track_sid=publication.sid, muted=True
                    )
                )
                assert await next_state() == "muted"
                info = await lk.room.get_participant(
                    api.RoomParticipantIdentity(room="mute", identity="alice")
                )
                assert [track.muted for track in info.tracks] == [True]
            finally:
                pump.cancel()

    asyncio.run(scenario())


def test_the_room_service_unsubscribes_and_resubscribes_a_participant(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "subs") as (lk, alice, bob):
            bob_hears = on_subscribed(bob, rtc.TrackKind.KIND_AUDIO)
            pump, publication = await publish_tone_track(alice, 450.0)
            try:
                track, _ = await bob_hears.wait("bob to hear alice")
                listener = AudioListener(track)
                await listener.until("alice's tone at bob", lambda l: l.loud_frames > 10)
                request = api.UpdateSubscriptionsRequest(
                    room="subs", identity="bob", track_sids=[publication.sid], subscribe=False
                )
                await lk.room.update_subscriptions(request)
                await listener.until_stalled("alice's audio to stop once bob is unsubscribed")

                loud_before = listener.loud_frames
                request.subscribe = True
                await lk.room.update_subscriptions(request)
                await listener.until(
                    "the tone once bob is subscribed again",
                    lambda l: l.loud_frames > loud_before + 10,
                )
                await listener.close()
            finally:
                pump.cancel()

    asyncio.run(scenario())


def test_connection_quality_of_a_publisher_reaches_the_room(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "quality") as (_, alice, bob):
            rated = Event()

            def on_quality(participant, quality):
                if participant.identity == "alice":
                    rated.set(quality)

            bob.on("connection_quality_changed", on_quality)
            pump = await publish_tone(alice, 350.0)
            try:
                # A clean private network: nothing lost, round trips of a millisecond.
                quality = await rated.wait("bob to learn alice's connection quality")
                assert quality == rtc.ConnectionQuality.QUALITY_EXCELLENT, quality
            finally:
                pump.cancel()

    asyncio.run(scenario())


def test_data_reaches_only_its_destinations_with_the_real_sender(confab_server):
    async def scenario():
        async with joined(confab_server, "data", "alice") as alice, joined(
            confab_server, "data", "bob"
        ) as bob, joined(confab_server, "data", "carol") as carol:
            received = {"bob": [], "carol": []}
            done = {"bob": Event(), "carol": Event()}

            def collector(name):
                def handler(packet: rtc.DataPacket):
                    received[name].append(
                        (packet.participant.identity, packet.topic, bytes(packet.data))
                    )
                    if packet.data == b"to everyone":
                        done[name].set()

                return handler

            bob.on("data_received", collector("bob"))
            carol.on("data_received", collector("carol"))
            await wait_for_participants(alice, {"bob", "carol"})

            lp = alice.local_participant
            await lp.publish_data(b"for bob", destination_identities=["bob"], topic="private")
            await lp.publish_data(b"to everyone", topic="public")
            await done["bob"].wait("bob's data")
            await done["carol"].wait("carol's data")
            # One sender's reliable packets arrive in order, so carol would have had the private
            # one before the public one.
            assert received["bob"] == [
                ("alice", "private", b"for bob"),
                ("alice", "public", b"to everyone"),
            ]
            assert received["carol"] == [("alice", "public", b"to everyone")]

    asyncio.run(scenario())


def collect_chat(room: rtc.Room) -> "Event":
    """An event set with (sender identity, text) for the first `lk.chat` message to `room`."""
    chat = Event()

    def on_chat(reader: rtc.TextStreamReader, sender_identity: str):
        async def read():
            chat.set((sender_identity, await reader.read_all()))

        asyncio.create_task(read())

    room.register_text_stream_handler("lk.chat", on_chat)
    return chat


async def set_can_publish(lk: api.LiveKitAPI, room: str, identity: str, allowed: bool):
    await lk.room.update_participant(
        api.UpdateParticipantRequest(
            room=room,
            identity=identity,
            permission=api.ParticipantPermission(
                can_publish=allowed, can_subscribe=True, can_publish_data=True
            ),
        )
    )


def test_the_room_service_sends_data_to_chosen_participants(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "notices") as (lk, alice, bob):
            received = {"alice": asyncio.Queue(), "bob": asyncio.Queue()}
            for name, room in (("alice", alice), ("bob", bob)):
                room.on(
                    "data_received",
                    lambda packet, name=name: received[name].put_nowait(
                        (packet.topic, bytes(packet.data))
                    ),
                )
            await lk.room.send_data(
                api.SendDataRequest(
                    room="notices",
                    data=b"for bob only",
                    kind=api.DataPacket.Kind.RELIABLE,
                    destination_identities=["bob"],
                    topic="notice",
                )
            )
            await lk.room.send_data(
                api.SendDataRequest(
                    room="notices", data=b"for everyone", kind=api.DataPacket.Kind.RELIABLE
                )
            )

            async def next_packet(name):
                return await asyncio.wait_for(received[name].get(), DEADLINE_S)

            assert await next_packet("bob") == ("notice", b"for bob only")
            assert await next_packet("bob") == ("", b"for everyone")
            # The server's reliable packets reach alice in order: the first she gets is the
            # broadcast, so the addressed one never came.
            assert await next_packet("alice") == ("", b"for everyone")

    asyncio.run(scenario())


async def wait_for_participants(room: rtc.Room, identities: set):
    arrived = Event()

    def check(*_):
        present = {p.identity for p in room.remote_participants.values()}
        if identities <= present:
            arrived.set()

    room.on("participant_connected", check)
    check()
    await arrived.wait(f"{identities} to join")


def test_chat_text_and_rpc_round_trip(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "chat") as (_, alice, bob):
            chat = collect_chat(bob)

            @bob.local_participant.register_rpc_method("greet")
            async def greet(data: rtc.RpcInvocationData) -> str:
                return f"hello {data.payload}, from {data.caller_identity}"

            await wait_for_participants(alice, {"bob"})
            await alice.local_participant.send_text("Good morning ☀", topic="lk.chat")
            assert await chat.wait("bob to get the chat message") == ("alice", "Good morning ☀")

            answer = await asyncio.wait_for(
                alice.local_participant.perform_rpc(
                    destination_identity="bob", method="greet", payload="Bob"
                ),
                DEADLINE_S,
            )
            assert answer == "hello Bob, from alice"

    asyncio.run(scenario())


def receive_one_file(room: rtc.Room, topic: str) -> Event:
    """An event set with (sender, name, sha256) of the first byte stream on `topic`."""
    arrived = Event()

    def on_file(reader: rtc.ByteStreamReader, sender_identity: str):
        async def read():
            digest = hashlib.sha256()
            async for chunk in reader:
                digest.update(chunk)
            arrived.set((sender_identity, reader.info.name, digest.hexdigest()))

        asyncio.create_task(read())

    room.register_byte_stream_handler(topic, on_file)
    return arrived


def test_a_20_mb_file_arrives_intact(confab_server):
    async def scenario():
        payload = os.urandom(20 * 1024 * 1024)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "report.bin")
            with open(path, "wb") as file:
                file.write(payload)
            async with alice_and_bob(confab_server, "files") as (_, alice, bob):
                arrived = receive_one_file(bob, "files")
                await wait_for_participants(alice, {"bob"})
                await asyncio.wait_for(
                    alice.local_participant.send_file(path, topic="files"), 120
                )
                sender, name, digest = await asyncio.wait_for(
                    arrived.wait("the file at bob"), 120
                )
                assert (sender, name) == ("alice", "report.bin")
                assert digest == hashlib.sha256(payload).hexdigest()

    asyncio.run(scenario())


def test_revoking_and_granting_publish_through_the_room_service(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "moderated") as (lk, alice, bob):
            bob_hears = on_subscribed(bob, rtc.TrackKind.KIND_AUDIO)
            unpublished = Event()
            bob.on("track_unpublished", lambda publication, participant: unpublished.set())
            permissions = []
            revoked, granted = Event(), Event()

            def on_permissions(participant, permission):
                if participant.identity != "alice":
                    return
                permissions.append(permission.can_publish)
                (granted if permission.can_publish else revoked).set()

            alice.on("participant_permissions_changed", on_permissions)
            refreshed = Event()
            alice.on("token_refreshed", lambda: refreshed.set(alice._token))
            pump = await publish_tone(alice, 500.0)
            try:
                await bob_hears.wait("bob to hear alice")
                await set_can_publish(lk, "moderated", "alice", False)
                await revoked.wait("alice to learn she may no longer publish")
                # Her next reconnect must not restore what was revoked.
                refreshed_token = await refreshed.wait("alice to get a refreshed token")
                claims = api.TokenVerifier(API_KEY, API_SECRET).verify(refreshed_token)
                assert claims.identity == "alice"
                assert claims.video.can_publish is False
                await unpublished.wait("bob to see alice's track unpublished")
                info = await lk.room.get_participant(
                    api.RoomParticipantIdentity(room="moderated", identity="alice")
                )
                assert list(info.tracks) == []

                bob_hears_again = on_subscribed(bob, rtc.TrackKind.KIND_AUDIO)
                await set_can_publish(lk, "moderated", "alice", True)
                await granted.wait("alice to learn she may publish again")
                pump.cancel()
                pump = await publish_tone(alice, 700.0)
                track, _ = await bob_hears_again.wait("bob to hear alice again")
                peak, _ = await dominant_frequency(track)
                assert abs(peak - 700.0) < 10, peak
                assert permissions == [False, True]
            finally:
                pump.cancel()

    asyncio.run(scenario())


def test_removal_and_room_deletion_disconnect_with_their_reasons(confab_server):
    async def scenario():
        async with alice_and_bob(confab_server, "ending") as (lk, alice, bob):
            bob_gone, alice_gone = Event(), Event()
            bob.on("disconnected", lambda reason: bob_gone.set(reason))
            alice.on("disconnected", lambda reason: alice_gone.set(reason))

            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room="ending", identity="bob")
            )
            reason = await bob_gone.wait("bob to be removed")
            assert reason == rtc.DisconnectReason.PARTICIPANT_REMOVED, reason

            await lk.room.delete_room(api.DeleteRoomRequest(room="ending"))
            reason = await alice_gone.wait("alice to see the room deleted")
            assert reason == rtc.DisconnectReason.ROOM_DELETED, reason

    asyncio.run(scenario())
