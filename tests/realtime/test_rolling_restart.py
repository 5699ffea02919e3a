"""Issue 23: a rolling upgrade of the API loses nothing. Two API processes on one PostgreSQL +
Redis serve a room whose members chat the whole time; each process in turn gets SIGTERM and is
replaced by a new one (as a Deployment's rolling update does). A stopping process moves its
sockets with 1012 spread over SHUTDOWN_DRAIN_SECONDS (controlplane/draining.py,
realtime/drain.py); members move as the web app does (tests/support/rolling.py). Afterwards
every message said is stored once and seen by every member, nobody saw an error, another close
code, anyone leave or the room's agent go (it moves too, as roomagent/control.py does), and each
process exited by itself within its bounds."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.cluster import MP_PG_URL, api_server, fresh_backends, fresh_user, started
from tests.support.rolling import MovingAgent, MovingMember
from tests.support.servers import Server
from tests.support.waits import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DRAIN_S = 2.0
MEMBERS = 8
ENV = {
    "SHUTDOWN_DRAIN_SECONDS": str(DRAIN_S),
    "SHUTDOWN_TIMEOUT_SECONDS": "10",
    # a member who moves is back long before this: nobody is announced gone for a move
    "ROOM_PRESENCE_GRACE_SECONDS": "3",
}


async def _stopped(server: Server, within: float) -> float:
    """SIGTERM, then wait (without blocking the loop) for the process to exit: seconds taken."""
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    while server.process.poll() is None:
        assert time.monotonic() - began < within, f"{server.url} still running after {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def _chatter(member: MovingMember, said: list[str], stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        said.append(await member.say(f"{member.user.username} #{n}"))
        n += 1
        await asyncio.sleep(0.25)


async def test_a_rolling_restart_of_both_processes_loses_and_duplicates_nothing(tmp_path: Path):
    await fresh_backends()
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    with ExitStack() as stack:

        def start() -> Server:
            return stack.enter_context(api_server(tmp_path, runtime_dir, chat_rate=100, env=ENV))

        serving = [start(), start()]
        async with httpx.AsyncClient(base_url=serving[0].url, timeout=30) as http:
            host = await fresh_user(http)
            resp = await http.post(
                "/api/rooms",
                json={"title": "rolling", "max_participants": 20},
                headers=host.headers,
            )
            room = resp.json()
            users = [host]
            for _ in range(MEMBERS - 1):
                guest = await fresh_user(http)
                await http.post(f"/api/rooms/{room['code']}/join", headers=guest.headers)
                users.append(guest)
        # The room's agent, on the second process: it moves too, and nobody sees it go.
        secret = started(runtime_dir, room["code"]).agent_secret
        agent = MovingAgent(room["id"], secret, lambda: [s.agent_ws_url for s in serving])
        await agent.start(serving[1].agent_ws_url)
        members = [
            MovingMember(user, room["code"], lambda: [s.ws_url for s in serving]) for user in users
        ]
        for i, member in enumerate(members):
            await member.start(serving[i % 2].ws_url)
        said: list[str] = []
        stop = asyncio.Event()
        chatter = [asyncio.create_task(_chatter(m, said, stop)) for m in members]
        try:
            await asyncio.sleep(1.0)
            for _ in range(2):  # the oldest process goes, a new one takes its place
                old = serving[0]
                took = await _stopped(old, within=DRAIN_S + 3 * 10 + 15)
                serving.remove(old)
                serving.append(await asyncio.to_thread(start))  # the loop keeps serving members
                # its members all moved, spread over the drain (not all in one instant)
                moved_at = [t for m in members for t, url in m.moves if url == old.ws_url]
                assert moved_at, f"nobody was on {old.url}"
                spread = max(moved_at) - min(moved_at)
                assert spread >= DRAIN_S * 0.5, f"{len(moved_at)} moves within {spread:.2f} s"
                assert took < DRAIN_S + 3 * 10 + 10, f"{old.url} took {took:.1f} s to stop"
                await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*chatter, return_exceptions=True)

        def everyone_saw_everything() -> bool:
            return all(not m.unconfirmed for m in members) and all(
                {c["client_id"] for c in m.seen.values()} >= set(said) for m in members
            )

        await eventually(everyone_saw_everything, what="every member saw every message")
        problems = {m.user.username: list(m.problems) for m in members}  # before they leave
        problems["agent"] = list(agent.problems)
        await asyncio.gather(*(m.stop() for m in members), agent.stop())

    assert problems == {**{m.user.username: [] for m in members}, "agent": []}
    assert len(agent.moves) >= 1
    assert all(len(m.moves) >= 1 for m in members)
    for member in members:
        ids_of: dict[tuple[str, str], str] = {}
        for chat in member.seen.values():  # one message per client_id, as everyone sees it
            key = (chat["user"]["id"], chat["client_id"])
            assert ids_of.setdefault(key, chat["id"]) == chat["id"], key
    engine = create_async_engine(MP_PG_URL)
    async with engine.connect() as conn:
        stored = (
            (
                await conn.execute(
                    text("SELECT client_id FROM messages WHERE room_id = :room"),
                    {"room": uuid.UUID(room["id"])},
                )
            )
            .scalars()
            .all()
        )
    await engine.dispose()
    assert sorted(stored) == sorted(said)  # each stored once: nothing lost, nothing twice
