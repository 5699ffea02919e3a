"""Issue 23: the drain of a stopping API process (controlplane/realtime/drain.py), in process on
both backends. Its room sockets are closed with 1012 "service restart", one after another over
SHUTDOWN_DRAIN_SECONDS, then its agent sockets; it returns once they and their clean-ups are
done; a socket that arrives meanwhile is told 1012 at once and /readyz answers 503. (SIGTERM
starting it, across real processes: test_rolling_restart.py and test_shutdown.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets

from controlplane.realtime.drain import Drain
from tests.support.rooms import (
    Socket,
    agent_socket,
    create_room,
    join,
    live_server,
    room_socket,
)
from tests.support.users import signed_in

SPREAD_S = 1.0


async def _closed_at(sock: Socket) -> tuple[int | None, float]:
    code = await sock.closed(within=15)
    return code, time.monotonic()


async def test_the_drain_moves_every_socket_spread_out_agents_last(settings_factory: Any):
    settings = await settings_factory(
        SHUTDOWN_DRAIN_SECONDS=SPREAD_S, ROOM_PRESENCE_GRACE_SECONDS=0.2
    )
    async with live_server(settings) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        guests = [await signed_in(live.http) for _ in range(3)]
        for guest in guests:
            await join(live.http, room["code"], guest.headers)
        agent = await agent_socket(live.agent_ws_url, live.runtime.started[room["code"]])
        socks = [
            await room_socket(live.ws_url, room["code"], u.access_token) for u in [host, *guests]
        ]
        drain: Drain = live.app.state.drain
        closes = [asyncio.create_task(_closed_at(s)) for s in [*socks, agent]]
        began = time.monotonic()
        await drain.run()
        took = time.monotonic() - began
        results = await asyncio.gather(*closes)
        assert [code for code, _ in results] == [1012] * (len(socks) + 1)
        times = sorted(at for _, at in results[: len(socks)])
        assert times[-1] - times[0] >= SPREAD_S * (len(socks) - 1) / len(socks) * 0.9
        assert results[-1][1] >= times[-1] - 0.05  # the agent last
        # the drain returned once the sockets and their clean-ups were done, well within bounds
        assert live.app.state.hub.open_sockets() == ([], [])
        assert took < SPREAD_S + settings.SHUTDOWN_TIMEOUT_SECONDS


async def test_a_draining_process_refuses_new_sockets_and_is_not_ready(settings_factory: Any):
    settings = await settings_factory(SHUTDOWN_DRAIN_SECONDS=0)
    async with live_server(settings) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        assert (await live.http.get("/readyz")).status_code == 200
        await live.app.state.drain.run()  # nothing to move: it returns at once
        ready = await live.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "draining"
        url = f"{live.ws_url}/api/rooms/{room['code']}/ws"
        assert await _refused(url, {"token": host.access_token}) == 1012
        started = live.runtime.started[room["code"]]
        auth = {"room_id": str(started.room_id), "secret": started.agent_secret}
        assert await _refused(f"{live.agent_ws_url}/internal/agents/ws", auth) == 1012


async def _refused(url: str, auth: dict[str, str]) -> int | None:
    """Dial, authenticate and read: the close code, once closed without a first message."""
    async with websockets.connect(url) as ws:
        try:
            await ws.send(json.dumps({"type": "auth", "data": auth}))
            first = await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError(f"served: {first!r}")
        except websockets.ConnectionClosed:
            pass
        return ws.close_code
