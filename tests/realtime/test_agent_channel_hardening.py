"""The agent channel against a compromised room (issue 19): frames over the app's limit are an
`error` reply, not a disconnect, under the production transport limits; a flood of
`browser.status`, `error`, `stage` and `ready` is coalesced and limited per agent, so members
get a few relays a second and the room row is not written per frame. A fake agent speaks the
real agent channel of a real server, both storage backends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import event

from controlplane.main import server_options
from controlplane.realtime.connections import AGENT_ERRORS_PER_SECOND, AGENT_FLOOD_PER_SECOND
from tests.support.rooms import Live, agent_socket, live, room_socket, room_with_guests
from tests.support.waits import eventually, retried

__all__ = ["live"]

READY = {"width": 1280, "height": 720, "fps": 30, "codec": "h264"}


async def ready_room(live: Live) -> tuple[str, Any, Any, Any]:
    room, host, _ = await room_with_guests(live, 0)
    code = room["code"]
    member = await room_socket(live.ws_url, code, host.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    await agent.send("ready", READY)
    await member.expect("room.status", status="ready")
    return code, host, member, agent


async def test_an_oversized_agent_frame_is_an_error_reply_not_a_disconnect(live: Live):
    opts = server_options(live.app_settings)
    limit = live.app_settings.ROOM_WS_MAX_FRAME_BYTES
    assert opts["ws_max_size"] > limit  # the app sees the frame, and answers it
    _, _, member, agent = await ready_room(live)
    # A page's title of 200 000 characters, as an agent without the cut would send it.
    await agent.send("browser.status", {"url": "https://example.com/", "title": "T" * 200_000})
    err = await agent.expect("error", code="frame_too_large")
    assert str(limit) in err["data"]["message"]
    # The channel is still up and still relays.
    await agent.send("browser.status", {"url": "https://example.com/ok", "title": "fine"})
    status = await member.expect("browser.status", url="https://example.com/ok")
    assert status["data"]["title"] == "fine"
    assert agent.close_code is None
    # Navigation (the host holds the remote) still reaches the agent: no `agent_unavailable`.
    await member.send("browser.navigate", {"url": "https://example.org/"})
    await agent.expect("browser.navigate")


async def test_a_flood_of_agent_reports_is_coalesced_and_limited(live: Live):
    _, _, member, agent = await ready_room(live)
    ctx = live.app.state.ctx
    writes: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE") and "rooms" in statement:
            writes.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
    try:
        conn_id = member.of_type("room.state")[0]["data"]["you"]["conn_id"]
        before_status = len(member.of_type("browser.status"))
        before_errors = len(member.of_type("error"))
        n = AGENT_FLOOD_PER_SECOND // 2  # under the frame guard: only coalescing limits these
        started = asyncio.get_running_loop().time()
        for i in range(n):
            await agent.ws.send(
                json.dumps(
                    {
                        "type": "browser.status",
                        "data": {"url": f"https://example.com/{i}", "title": f"t{i}"},
                    }
                )
            )
        # The latest status arrives...
        await member.expect("browser.status", url=f"https://example.com/{n - 1}", within=5)
        elapsed = asyncio.get_running_loop().time() - started
        relayed = len(member.of_type("browser.status")) - before_status
        interval = live.app_settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS
        # ...after at most one relay per interval (and one at once).
        assert relayed <= 2 + elapsed / interval, (relayed, elapsed)
        assert relayed < n / 10

        for i in range(n):
            await agent.ws.send(
                json.dumps(
                    {"type": "error", "data": {"code": "x", "message": f"{i}", "conn": conn_id}}
                )
            )
        writes.clear()
        for _ in range(n):
            await agent.ws.send(json.dumps({"type": "ready", "data": READY}))
            await agent.ws.send(json.dumps({"type": "stage", "data": {"stage": "ready"}}))
        await agent.send("heartbeat", {})

        def errors() -> list[dict[str, Any]]:
            return [
                m
                for m in member.of_type("error")[before_errors:]
                if m["data"]["code"] == "agent_error"
            ]

        # The first error is relayed however long the box takes to get to it...
        await eventually(errors, what="an agent_error relayed to the member")
        await asyncio.sleep(1.5)  # ...and what else will be, within the next second
        assert len(errors()) <= 2 * AGENT_ERRORS_PER_SECOND, len(errors())
        # `ready` and `stage` repeated 100 times each: the room row is not written per frame.
        assert len(writes) <= 4, writes
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)


async def test_frames_past_the_agent_flood_guard_are_dropped_with_one_warning(live: Live):
    _, _, member, agent = await ready_room(live)
    for _ in range(AGENT_FLOOD_PER_SECOND * 3):
        await agent.ws.send(json.dumps({"type": "heartbeat", "data": {}}))
    await agent.expect("error", code="rate_limited")
    await asyncio.sleep(1.2)
    assert len([m for m in agent.of_type("error") if m["data"]["code"] == "rate_limited"]) <= 3
    # Still connected, and heard again once the flood is over: when the server has worked
    # through it, which on a busy box can be seconds after the last frame was sent.
    tries = iter(range(1000))

    async def heard() -> None:
        url = f"https://example.com/after-{next(tries)}"
        await agent.send("browser.status", {"url": url, "title": "after"})
        await member.expect("browser.status", url=url, within=1)

    await retried(heard, what="a browser.status relayed after the flood")
    assert agent.close_code is None
