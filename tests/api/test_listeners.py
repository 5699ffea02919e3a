"""The agent channel's own listener (AGENT_PORT, issue 11 item 10): there, nothing of the API
answers; on the public listener, the agent socket does not."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from tests.support.rooms import Live, agent_socket, create_room, live
from tests.support.users import signed_in

__all__ = ["live"]

PUBLIC_SURFACE = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/docs"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/register"),
    ("GET", "/"),
]


async def test_the_agent_listener_answers_only_the_agent_socket(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    agent_http = live.agent_ws_url.replace("ws://", "http://")
    async with httpx.AsyncClient(base_url=agent_http, timeout=10) as client:
        for method, path in PUBLIC_SURFACE:
            assert (await live.http.request(method, path)).status_code != 404, path
            resp = await client.request(method, path)
            assert resp.status_code == 404, (path, resp.status_code, resp.text[:200])
            assert resp.json() == {"detail": "Not Found", "code": "not_found"}
        # a room socket is not served there either
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{live.agent_ws_url}/api/rooms/{room['code']}/ws")
    # the agent socket is served there, and authenticates as before
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[room["code"]])
    assert agent.received[0]["type"] == "auth.ok"
    await agent.close()


async def test_the_public_listener_does_not_serve_the_agent_socket(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    started = live.runtime.started[room["code"]]
    auth = {"type": "auth", "data": {"room_id": str(started.room_id), "secret": "x"}}
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{live.ws_url}/internal/agents/ws") as ws:
            await ws.send(json.dumps(auth))
    assert refused.value.response.status_code == 403
    assert (await live.http.get("/internal/agents/ws")).status_code == 404
