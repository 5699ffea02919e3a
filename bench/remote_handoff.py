"""Remote handoff latency (target and figures: docs/performance.md): host grants the remote -> the
new holder's input is accepted.

Two API processes on PostgreSQL + Redis. The host's socket is on process A; the guest's socket
and the room agent's channel (played by this bench: the agent starts taking the new holder's
input the moment it receives `remote.changed`) are on process B, so every handoff crosses
processes. Each round: the guest asks (`remote.request`), the host grants (`remote.grant`), the
clock runs from the grant being sent to `remote.changed` arriving at the agent (= input accepted)
and at the guest; then the host takes the remote back.

    .venv/bin/python -m bench.remote_handoff [--rounds 50]

Needs PostgreSQL and Redis (scripts/start-services.sh) and uses the realtime test database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.support.cluster import api_server, fresh_backends, fresh_user, started
from tests.support.rooms import Socket, agent_socket, room_socket


async def wait_holder(sock: Socket, holder: str) -> float:
    await sock.expect("remote.changed", holder_id=holder, within=10)
    return time.monotonic()


async def run(rounds: int) -> None:
    await fresh_backends()
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-handoff-"))
    runtime_dir = tmp / "rt"
    runtime_dir.mkdir()
    with ExitStack() as stack:
        a = stack.enter_context(api_server(tmp, runtime_dir))
        b = stack.enter_context(api_server(tmp, runtime_dir))
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
            host, guest = await fresh_user(http), await fresh_user(http)
            resp = await http.post("/api/rooms", json={"title": "handoff"}, headers=host.headers)
            code = resp.json()["code"]
            await http.post(f"/api/rooms/{code}/join", headers=guest.headers)
        agent = await agent_socket(b.agent_ws_url, started(runtime_dir, code))
        await agent.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
        host_sock = await room_socket(a.ws_url, code, host.access_token)
        guest_sock = await room_socket(b.ws_url, code, guest.access_token)
        to_agent: list[float] = []
        to_guest: list[float] = []
        for _ in range(rounds):
            await guest_sock.send("remote.request", {})
            await host_sock.expect("remote.requested", user_id=guest.id)
            sent = time.monotonic()
            await host_sock.send("remote.grant", {"user_id": guest.id})
            at_agent, at_guest = await asyncio.gather(
                wait_holder(agent, guest.id), wait_holder(guest_sock, guest.id)
            )
            to_agent.append((at_agent - sent) * 1000)
            to_guest.append((at_guest - sent) * 1000)
            await host_sock.send("remote.take", {})
            await wait_holder(agent, host.id)
            await wait_holder(guest_sock, host.id)
            await host_sock.expect("remote.changed", holder_id=host.id)
        for s in (agent, host_sock, guest_sock):
            await s.close()

    def row(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return (
            f"| {name} | {len(values)} | {statistics.median(values):.2f} | {p95:.2f} "
            f"| {max(values):.2f} | {os.getloadavg()[0]:.1f} |"
        )

    print("\nremote handoff across two API processes (grant sent -> remote.changed received)")
    print("| received by | rounds | p50 ms | p95 ms | max ms | load avg |")
    print("|---|---|---|---|---|---|")
    print(row("agent (input accepted)", to_agent))
    print(row("new holder", to_guest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
