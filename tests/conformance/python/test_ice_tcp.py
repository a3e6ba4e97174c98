"""`confab join` on a network that drops UDP reaches a real `livekit-server` over ICE-TCP.

The test network's bridge silently drops every UDP datagram to and from the firewalled host,
as many corporate networks do; TCP passes. `confab join` runs there, and LiveKit's Python SDK
(libwebrtc, on UDP) joins the same `livekit-server` from the peers' host. Both must see and
hear each other and exchange chat, while Confab's media goes over TCP to the server's
passive candidate (port LIVEKIT_TCP_PORT).
"""

import asyncio

from livekit import rtc

from conftest import firewalled_namespace, udp_dropped_by_the_firewall
from test_confab_client import (
    assert_decoded_python_media,
    decoded_stamps,
    finished,
    run_confab_join,
)
from test_livekit_rtc import (
    collect_chat,
    dominant_frequency,
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
            video, _ = await video_arrived.wait("confab's video at python")
            audio, _ = await audio_arrived.wait("confab's audio at python")
            counters = await decoded_stamps(video, frames=30)
            assert all(a < b for a, b in zip(counters, counters[1:])), counters
            peak, loudness = await dominant_frequency(audio)
            assert abs(peak - 440) < 10 and loudness > 1_000, (peak, loudness)
            output = await finished(confab, "confab join")
            for pump in pumps:
                pump.cancel()

        for role in ("publisher", "subscriber"):
            assert f"media-path {role} tcp" in output, output
            assert f"media-path {role} udp" not in output, output
        assert_decoded_python_media(output, tone_hz=660)
        # Confab did try UDP first (its host candidate and the server's UDP candidate).
        dropped = udp_dropped_by_the_firewall() - dropped_before
        assert dropped > 0
        summary = [line for line in output.splitlines() if line.startswith(("media-path", "video-", "audio-"))]
        print(f"UDP datagrams dropped by the firewall: {dropped}", *summary, sep="\n")

    asyncio.run(scenario())
