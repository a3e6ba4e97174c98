"""LiveKit's Python server SDK (`livekit-api`) and protocol bindings against `confab server`.

Tokens are minted by LiveKit's own code, RoomService calls go through its Twirp client, and
signalling frames are decoded with LiveKit's generated protobuf classes, so none of the
wire formats are judged by code we wrote.
"""

import asyncio

import aiohttp
import pytest
from livekit import api
from livekit.protocol import models, rtc

from conftest import API_KEY, API_SECRET, token

DEADLINE_S = 10.0


async def next_signal(ws: aiohttp.ClientWebSocketResponse) -> rtc.SignalResponse:
    """The next signal message, skipping subscriber offers (media is tested with the rtc SDK)."""
    while True:
        message = await asyncio.wait_for(ws.receive(), DEADLINE_S)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        response = rtc.SignalResponse()
        response.ParseFromString(message.data)
        if response.WhichOneof("message") != "offer":
            return response


def test_room_lifecycle_through_the_python_room_service(confab_server):
    async def scenario():
        async with api.LiveKitAPI(confab_server.http_url, API_KEY, API_SECRET) as lk:
            room = await lk.room.create_room(
                api.CreateRoomRequest(name="py-room", metadata="from python", max_participants=5)
            )
            assert room.sid.startswith("RM_")
            assert room.metadata == "from python"

            listed = await lk.room.list_rooms(api.ListRoomsRequest())
            assert [r.name for r in listed.rooms] == ["py-room"]

            updated = await lk.room.update_room_metadata(
                api.UpdateRoomMetadataRequest(room="py-room", metadata="v2")
            )
            assert updated.metadata == "v2"

            await lk.room.delete_room(api.DeleteRoomRequest(room="py-room"))
            listed = await lk.room.list_rooms(api.ListRoomsRequest())
            assert list(listed.rooms) == []

    asyncio.run(scenario())


def test_a_wrong_secret_is_refused_with_a_twirp_error(confab_server):
    async def scenario():
        async with api.LiveKitAPI(confab_server.http_url, API_KEY, "x" * 40) as lk:
            with pytest.raises(api.TwirpError) as refused:
                await lk.room.list_rooms(api.ListRoomsRequest())
            assert refused.value.status == 401
            assert "signature is invalid" in refused.value.message

    asyncio.run(scenario())


def test_python_tokens_join_and_admin_calls_reach_the_participant(confab_server):
    async def scenario():
        ws_url = confab_server.http_url.replace("http://", "ws://")
        async with aiohttp.ClientSession() as http, api.LiveKitAPI(
            confab_server.http_url, API_KEY, API_SECRET
        ) as lk:
            jwt = token("py-standup", "ada")
            async with http.get(f"{confab_server.http_url}/rtc/validate?access_token={jwt}") as validate:
                assert validate.status == 200
                assert await validate.text() == "success"

            # Header auth, as LiveKit's Rust core (under the Python SDK) connects.
            async with http.ws_connect(
                f"{ws_url}/rtc?protocol=17&sdk=python",
                headers={"Authorization": f"Bearer {jwt}"},
            ) as ws:
                first = await next_signal(ws)
                assert first.WhichOneof("message") == "join"
                join = first.join
                assert join.participant.identity == "ada"
                assert join.participant.sid.startswith("PA_")
                assert join.participant.permission.can_publish
                assert join.server_info.protocol == 17
                assert join.ping_interval > 0 and join.ping_timeout > 0

                participants = await lk.room.list_participants(
                    api.ListParticipantsRequest(room="py-standup")
                )
                assert [p.identity for p in participants.participants] == ["ada"]
                ada = await lk.room.get_participant(
                    api.RoomParticipantIdentity(room="py-standup", identity="ada")
                )
                assert ada.sid == join.participant.sid

                revoked = await lk.room.update_participant(
                    api.UpdateParticipantRequest(
                        room="py-standup",
                        identity="ada",
                        permission=models.ParticipantPermission(
                            can_publish=False, can_subscribe=False, can_publish_data=False
                        ),
                    )
                )
                assert not revoked.permission.can_publish
                update = await next_signal(ws)
                assert update.WhichOneof("message") == "update"
                assert not update.update.participants[0].permission.can_subscribe
                refresh = await next_signal(ws)
                assert refresh.WhichOneof("message") == "refresh_token"
                claims = api.TokenVerifier(API_KEY, API_SECRET).verify(refresh.refresh_token)
                assert claims.identity == "ada" and claims.video.can_subscribe is False

                await lk.room.remove_participant(
                    api.RoomParticipantIdentity(room="py-standup", identity="ada")
                )
                leave = await next_signal(ws)
                assert leave.WhichOneof("message") == "leave"
                assert leave.leave.reason == models.DisconnectReason.PARTICIPANT_REMOVED

    asyncio.run(scenario())


def test_query_token_join_and_ping_req(confab_server):
    """The browser SDK's way in (token in the query), then ping_req → pong_resp."""

    async def scenario():
        ws_url = confab_server.http_url.replace("http://", "ws://")
        async with aiohttp.ClientSession() as http:
            jwt = token("py-ping", "bob")
            async with http.ws_connect(f"{ws_url}/rtc?access_token={jwt}&protocol=17") as ws:
                assert (await next_signal(ws)).WhichOneof("message") == "join"
                request = rtc.SignalRequest(ping_req=rtc.Ping(timestamp=4242, rtt=0))
                await ws.send_bytes(request.SerializeToString())
                pong = await next_signal(ws)
                assert pong.WhichOneof("message") == "pong_resp"
                assert pong.pong_resp.last_ping_timestamp == 4242

    asyncio.run(scenario())
