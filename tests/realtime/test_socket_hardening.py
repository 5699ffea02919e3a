"""Room sockets under attack (issue 11, security): bad frames, stalled readers, revoked members,
expired tokens, re-broadcast floods. Both storage backends, a real server."""

from __future__ import annotations

import asyncio
import logging

import pytest
import websockets

from tests.support.rooms import Live, create_room, join, live, room_socket
from tests.support.users import SignedIn, signed_in

__all__ = ["live"]

DEEP = "[" * 30_000 + "]" * 30_000  # under the frame limit, far over the JSON parser's depth


async def _room(live: Live, n_guests: int = 1) -> tuple[dict, SignedIn, list[SignedIn]]:
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    guests = [await signed_in(live.http) for _ in range(n_guests)]
    for g in guests:
        await join(live.http, room["code"], g.headers)
    return room, host, guests


async def test_deeply_nested_json_is_a_documented_refusal_without_traceback(
    live: Live, caplog: pytest.LogCaptureFixture
):
    room, host, _ = await _room(live, 0)
    caplog.set_level(logging.INFO)
    # as the first frame: the documented 4401, not a 1011 from an escaped RecursionError
    async with websockets.connect(f"{live.ws_url}/api/rooms/{room['code']}/ws") as ws:
        await ws.send(DEEP)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4401
    # on an open socket: an `error` reply, and the socket keeps working
    sock = await room_socket(live.ws_url, room["code"], host.access_token)
    await sock.send_raw(DEEP)
    await sock.expect("error", code="bad_json")
    await sock.send("ping")
    await sock.expect("pong")
    assert not [r for r in caplog.records if r.exc_info], "no traceback is logged"
