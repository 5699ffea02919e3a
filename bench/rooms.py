"""Room start-up and density (figures: docs/performance.md).

1. create -> first decoded frame: POST /api/rooms on a live API (embedded storage, real local
   runtime), wait for `ready` on the room socket, offer from an aiortc viewer, time the first
   decoded frame. Cold starts, then with a warm pool (ROOM_WARM_POOL=1; each run waits for the
   pool to have refilled, as a room created a while after the previous one would find it).
2. N concurrent rooms with a static page: CPU and memory per room (agent + Xvfb + Chromium +
   PulseAudio, summed over each room's labelled processes) over a sampling window, plus the
   machine's load.

    .venv/bin/python -m bench.rooms [--cold 3] [--warm 3] [--rooms 1,3,5] [--seconds 10]

Prints tables; writes nothing. Results go to docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from controlplane.rooms import warm_pool
from controlplane.runtime.local import DEPLOYMENT_ENV, ROOM_ENV
from tests.support.backends import embedded_settings
from tests.support.rooms import Live, create_room, live_server, room_socket
from tests.support.smtp import free_port
from tests.support.users import signed_in
from tests.support.viewer import HubViewer


def room_procs(deployment: str) -> dict[str, list[psutil.Process]]:
    rooms: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(DEPLOYMENT_ENV) == deployment and ROOM_ENV in env:
            rooms.setdefault(env[ROOM_ENV], []).append(proc)
    return rooms


async def ready_room(live: Live, user: Any) -> tuple[dict[str, Any], Any]:
    room = await create_room(live.http, user.headers)
    sock = await room_socket(live.ws_url, room["code"], user.access_token)
    if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
        await sock.expect("room.status", status="ready", within=120)
    return room, sock


async def timed_start(live: Live, user: Any) -> tuple[float, float]:
    t0 = time.monotonic()
    room, sock = await ready_room(live, user)
    ready = time.monotonic() - t0
    viewer = HubViewer(sock, ice_servers=[])
    await viewer.connect(within=60)
    await viewer.wait_frames(1, within=60)
    first = viewer.frames[0][0] - t0
    await viewer.close()
    await sock.close()
    await live.http.post(f"/api/rooms/{room['code']}/end", headers=user.headers)
    return ready, first


def sample(deployment: str, seconds: float) -> tuple[float, float, float, int]:
    """Mean CPU % of one core, RSS MB and PSS MB (shared pages split between the processes that
    map them) per room over the window, and the room count."""
    procs = room_procs(deployment)
    flat = [p for ps in procs.values() for p in ps]
    for p in flat:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    cpu, rss, pss = [], [], []
    for ps in procs.values():
        c = m = u = 0.0
        for p in ps:
            try:
                c += p.cpu_percent(None)
                full = p.memory_full_info()
                m += full.rss / 2**20
                u += full.pss / 2**20
            except psutil.Error:
                pass
        cpu.append(c)
        rss.append(m)
        pss.append(u)
    return statistics.mean(cpu), statistics.mean(rss), statistics.mean(pss), len(procs)


async def bench_settings(port: int, **extra: Any) -> Any:
    return await embedded_settings(
        Path(tempfile.mkdtemp(prefix="wp-bench-rooms-")),
        ROOM_RUNTIME="local",
        ROOM_CREATES_PER_HOUR=1000,
        ROOM_MAX_LIVE=100,
        REAPER_INTERVAL_SECONDS=3600,
        LOG_LEVEL="WARNING",
        **extra,
    )


async def pool_ready(live: Live) -> None:
    ctx = live.app.state.ctx
    for _ in range(600):
        if (await warm_pool.size(ctx=ctx))["ready"] >= 1:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # let the new browser's start-up settle, as it would in real use


async def run_starts(cold: int, warm: int) -> None:
    print(f"\nroom create -> first decoded frame (local runtime), load {os.getloadavg()[0]:.1f}")
    print("| start | run | ready s | first frame s |\n|---|---|---|---|")
    port = free_port()
    async with live_server(await bench_settings(port), runtime=False, port=port) as live:
        user = await signed_in(live.http)
        for i in range(cold):
            ready, first = await timed_start(live, user)
            print(f"| cold | {i + 1} | {ready:.2f} | {first:.2f} |")
    if not warm:
        return
    port = free_port()
    settings = await bench_settings(port, ROOM_WARM_POOL=1)
    async with live_server(settings, runtime=False, port=port) as live:
        user = await signed_in(live.http)
        try:
            for i in range(warm):
                await pool_ready(live)
                ready, first = await timed_start(live, user)
                print(f"| warm pool | {i + 1} | {ready:.2f} | {first:.2f} |")
        finally:
            ctx = live.app.state.ctx  # warm browsers outlive the API by design: stop them
            for info in await ctx.runtime.list_managed():
                await ctx.runtime.stop(runtime_ref=info.runtime_ref)


async def run(cold: int, warm: int, counts: list[int], seconds: float) -> None:
    await run_starts(cold, warm)
    port = free_port()
    settings = await bench_settings(port)
    async with live_server(settings, runtime=False, port=port) as live:
        user = await signed_in(live.http)

        print("\nconcurrent rooms, static page (about:blank), no viewers")
        print(
            "| rooms | CPU % of a core per room | RSS MB per room | PSS MB per room "
            "| machine load (1 min) |"
        )
        print("|---|---|---|---|---|")
        open_rooms: list[tuple[dict[str, Any], Any]] = []
        for n in counts:
            while len(open_rooms) < n:
                open_rooms.append(await ready_room(live, user))
            # let start-up settle, and the agents' idle grace (sound, cursor) run out
            await asyncio.sleep(8)
            cpu, rss, pss, found = await asyncio.to_thread(sample, settings.deployment_id, seconds)
            print(f"| {found} | {cpu:.1f} | {rss:.0f} | {pss:.0f} | {os.getloadavg()[0]:.1f} |")
        for room, sock in open_rooms:
            await sock.close()
            await live.http.post(f"/api/rooms/{room['code']}/end", headers=user.headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--rooms", default="1,3,5")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    counts = [int(x) for x in args.rooms.split(",")]
    asyncio.run(run(args.cold, args.warm, counts, args.seconds))


if __name__ == "__main__":
    main()
