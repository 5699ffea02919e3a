"""Chat delivery latency: 10 rooms x 10 clients spread over two API processes (PostgreSQL + Redis).

Every client sends chat messages stamped with its send time; every client records when each
message arrives. Prints p50/p99 delivery latency and counts lost and reordered messages (per
sender, every receiver must get every message once, in send order).

    .venv/bin/python -m bench.chat_latency [--rooms 10] [--clients 10] [--messages 20] [--burst]

Needs PostgreSQL and Redis (scripts/start-services.sh) and uses the test database.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import websockets

from tests.support.cluster import api_servers, fresh_backends
from tests.support.users import signed_in


async def run(rooms: int, clients: int, messages: int, rate_per_s: float, burst: bool) -> None:
    await fresh_backends()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "rt").mkdir()
    with api_servers(2, tmp, tmp / "rt", chat_rate=1000) as servers:
        async with httpx.AsyncClient(base_url=servers[0].url, timeout=60) as http:
            users = [
                await signed_in(http, username=f"b{uuid.uuid4().hex[:12]}") for _ in range(clients)
            ]
            codes = []
            for r in range(rooms):
                owner = users[r % clients]
                resp = await http.post(
                    "/api/rooms",
                    json={"title": f"bench {r}", "max_participants": clients},
                    headers=owner.headers,
                )
                code = resp.json()["code"]
                codes.append(code)
                for u in users:
                    await http.post(f"/api/rooms/{code}/join", headers=u.headers)
        latencies: list[float] = []
        received: dict[tuple[str, str, str], list[int]] = {}  # (room, receiver, sender) -> seqs

        async def client(room_i: int, user_i: int) -> None:
            server = servers[(room_i + user_i) % 2]
            user = users[user_i]
            code = codes[room_i]
            async with websockets.connect(f"{server.ws_url}/api/rooms/{code}/ws") as ws:
                await ws.send(json.dumps({"type": "auth", "data": {"token": user.access_token}}))
                json.loads(await ws.recv())  # room.state
                await barrier.wait()
                expected_total = clients * messages

                async def sender() -> None:
                    if not burst:
                        # People do not type in step: each client starts at its own phase.
                        await asyncio.sleep(random.random() / rate_per_s)
                    for n in range(messages):
                        body = {"text": f"{n}", "client_id": f"{user.id}:{n}:{time.time_ns()}"}
                        await ws.send(json.dumps({"type": "chat.send", "data": body}))
                        await asyncio.sleep(1 / rate_per_s)

                task = asyncio.create_task(sender())
                got = 0
                try:
                    while got < expected_total:
                        raw = await asyncio.wait_for(ws.recv(), timeout=15)
                        now = time.time_ns()
                        msg = json.loads(raw)
                        if msg["type"] != "chat.message":
                            continue
                        sender_id, n, sent = msg["data"]["client_id"].split(":")
                        latencies.append((now - int(sent)) / 1e6)
                        received.setdefault((code, user.id, sender_id), []).append(int(n))
                        got += 1
                except (TimeoutError, websockets.ConnectionClosed):
                    pass  # what never arrived is counted as lost
                task.cancel()

        barrier = asyncio.Barrier(rooms * clients)
        t0 = time.monotonic()
        await asyncio.gather(*(client(r, u) for r in range(rooms) for u in range(clients)))
        elapsed = time.monotonic() - t0
    expected = rooms * clients * clients * messages
    lost = expected - len(latencies)
    reordered = sum(
        sum(1 for a, b in itertools.pairwise(seq) if b < a) for seq in received.values()
    )
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(
        f"chat delivery: {rooms} rooms x {clients} clients over 2 API processes, "
        f"{messages} messages per client at {rate_per_s}/s"
        f"{' (all clients in step)' if burst else ''}, {elapsed:.1f} s"
    )
    print("| deliveries | p50 ms | p99 ms | max ms | mean ms | lost | reordered |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(lat)} | {p(0.5):.2f} | {p(0.99):.2f} | {lat[-1]:.2f} | "
        f"{statistics.mean(lat):.2f} | {lost} | {reordered} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second per client")
    parser.add_argument(
        "--burst", action="store_true", help="all clients send at the same instants (worst case)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.rooms, args.clients, args.messages, args.rate, args.burst))


if __name__ == "__main__":
    main()
