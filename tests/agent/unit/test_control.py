"""The agent's control channel gives up after `control_lost_s` without its control plane (issue
11, item 11), counted from when the channel went down, not from the agent's start."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from roomagent.control import ControlClient, ControlLost

from tests.support.smtp import free_port

# How late the give-up may come on a busy box: the reconnect attempts it waits on are real.
SLACK_S = 6.0


async def _nothing(*_: Any) -> None:
    return None


def client(port: int, give_up: float) -> ControlClient:
    return ControlClient(
        f"ws://127.0.0.1:{port}", "room", "secret", _nothing, _nothing, give_up_after_s=give_up
    )


async def test_an_unreachable_control_plane_is_given_up_on_time():
    started = time.monotonic()
    with pytest.raises(ControlLost):
        await asyncio.wait_for(client(free_port(), 1.5).run(), 10)
    # Not before the delay; "on time" is bounded generously above it (a busy box runs late).
    assert 1.4 <= time.monotonic() - started < 1.5 + SLACK_S


async def test_the_clock_starts_when_the_channel_goes_down():
    async def control_plane(ws: Any) -> None:
        await ws.recv()  # auth
        await ws.send(json.dumps({"type": "auth.ok", "data": {}}))
        await ws.wait_closed()

    port = free_port()
    server = await websockets.serve(control_plane, "127.0.0.1", port)
    agent = client(port, 1.0)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.connected.wait(), 5)
    await asyncio.sleep(1.5)  # up longer than the give-up delay: nothing happens
    assert not task.done()
    server.close()  # the control plane goes away for good
    gone = time.monotonic()
    with pytest.raises(ControlLost):
        await asyncio.wait_for(task, 10)
    assert 0.9 <= time.monotonic() - gone < 1.0 + SLACK_S


async def test_zero_means_reconnect_forever():
    task = asyncio.create_task(client(free_port(), 0).run())
    await asyncio.sleep(2.0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_control_plane_that_is_stopping_is_left_for_another_at_once():
    """Issue 23: a control-plane process that is stopping closes the channel with 1012 (service
    restart); the agent dials again at once (through the Service: another process), not after
    its backoff, so the room's viewers do not see their agent go. Anything else still backs off
    (here 5 s, far longer than the test allows the move)."""
    connected: list[float] = []
    again = asyncio.Event()

    async def control_plane(ws: Any) -> None:
        await ws.recv()  # auth
        await ws.send(json.dumps({"type": "auth.ok", "data": {}}))
        connected.append(time.monotonic())
        if len(connected) == 1:
            await ws.close(1012, "service restart")
        else:
            again.set()
        await ws.wait_closed()

    port = free_port()
    server = await websockets.serve(control_plane, "127.0.0.1", port)
    agent = ControlClient(
        f"ws://127.0.0.1:{port}", "room", "secret", _nothing, _nothing, backoff_s=5.0
    )
    task = asyncio.create_task(agent.run())
    try:
        # the backoff would take at least 4 s
        await asyncio.wait_for(again.wait(), 3.0)
        await asyncio.wait_for(agent.connected.wait(), 3.0)
        assert agent.connects == 2
    finally:
        server.close()
        # (a cancellation that meets a completing wait_for is lost on Python 3.11: repeat it)
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
