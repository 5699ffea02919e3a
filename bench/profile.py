""" "Keep my browser profile" figures (issue 22; docs/performance.md "Browser profiles").

1. Sealing a realistic profile (300 cookies over 60 sites, local storage of 20 origins, about
   150 KB of JSON): its size before and after, seal and open time (the control plane's cost per
   save and load).
2. Through real room browsers (embedded storage, local runtime): create -> the start page's
   first decoded frame at an aiortc viewer, without a profile and with that profile loaded
   (target: at most 0.5 s added), and the agent's own load and save times (CDP in, CDP out and
   the round trip to the control plane), read from its log.

    .venv/bin/python -m bench.profile [--runs 3] [--cookies 300] [--origins 20]

Prints tables; writes nothing. Results go to docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import string
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from controlplane.models import BrowserProfile
from controlplane.rooms.profile_crypto import open_sealed, seal
from tests.support.backends import embedded_settings
from tests.support.rooms import Live, create_room, live_server, room_socket
from tests.support.signin_site import signin_site
from tests.support.smtp import free_port
from tests.support.users import SignedIn, signed_in
from tests.support.viewer import HubViewer

SITE_GREEN = (30, 120, 60)  # the sign-in site's background
SECRET = "bench-secret-0123456789-0123456789-0123456789"


def realistic_profile(cookies: int, origins: int, seed: int = 7) -> dict[str, Any]:
    """Cookies of the lengths real sites set (ids, consent strings, JWT-like sessions) over a
    few dozen sites, and local storage of the size SPAs keep (settings, cached state)."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_."

    def token(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    sites = [f"site{i}.example" for i in range(max(1, cookies // 5))]
    jar = []
    for i in range(cookies):
        domain = rng.choice(sites)
        jar.append(
            {
                "name": f"c{i}_{token(6)}",
                "value": token(rng.choice((16, 32, 64, 180, 400))),
                "domain": f".{domain}",
                "path": "/",
                "expires": time.time() + rng.randint(3600, 400 * 86400),
                "httpOnly": rng.random() < 0.4,
                "secure": True,
                "sameSite": rng.choice(("Lax", "None", "Strict")),
            }
        )
    local = {
        f"https://app{o}.example": {
            f"k{k}": token(rng.choice((8, 40, 300, 2000))) for k in range(rng.randint(3, 15))
        }
        for o in range(origins)
    }
    return {"version": 1, "cookies": jar, "local_storage": local}


def seal_figures(profile: dict[str, Any], runs: int = 20) -> None:
    raw = json.dumps(profile, separators=(",", ":")).encode()
    user = uuid.uuid4()
    t_seal, t_open, sealed = [], [], b""
    for _ in range(runs):
        t0 = time.perf_counter()
        sealed = seal(SECRET, user, raw, max_bytes=1 << 24)
        t_seal.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        open_sealed(SECRET, user, sealed, max_bytes=1 << 24)
        t_open.append((time.perf_counter() - t0) * 1000)
    print(
        f"\nsealing a profile ({len(profile['cookies'])} cookies, "
        f"{len(profile['local_storage'])} origins), load {os.getloadavg()[0]:.1f}"
    )
    print("| JSON KB | sealed KB | seal ms (median) | open ms (median) |\n|---|---|---|---|")
    print(
        f"| {len(raw) / 1024:.0f} | {len(sealed) / 1024:.0f} | "
        f"{statistics.median(t_seal):.2f} | {statistics.median(t_open):.2f} |"
    )


async def store_profile(live: Live, user: SignedIn, profile: dict[str, Any]) -> None:
    raw = json.dumps(profile, separators=(",", ":")).encode()
    settings = live.app_settings
    sealed = seal(settings.PROFILE_SECRET_KEY, uuid.UUID(user.id), raw, max_bytes=1 << 24)
    async with live.app.state.ctx.sessionmaker() as s:
        row = await s.get(BrowserProfile, uuid.UUID(user.id))
        if row is None:
            s.add(BrowserProfile(user_id=uuid.UUID(user.id), sealed=sealed, plain_bytes=len(raw)))
        else:
            row.sealed, row.plain_bytes = sealed, len(raw)
        await s.commit()


async def timed_start(live: Live, user: SignedIn, url: str, keep: bool) -> float:
    """create -> the start page's first frame at a viewer, in seconds; the room is ended."""
    t0 = time.monotonic()
    room = await create_room(live.http, user.headers, start_url=url, keep_profile=keep)
    sock = await room_socket(live.ws_url, room["code"], user.access_token)
    if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
        await sock.expect("room.status", status="ready", within=120)
    viewer = HubViewer(sock, ice_servers=[])
    await viewer.connect(within=60)
    shown = await viewer.wait_colour(SITE_GREEN, within=60) - t0
    await viewer.close()
    await sock.close()
    await live.http.post(f"/api/rooms/{room['code']}/end", headers=user.headers)
    return shown


def agent_times(log_dir: Path) -> tuple[list[float], list[float], list[int]]:
    """The agents' own profile load and save times (ms) and saved sizes, from their JSON logs."""
    loads, saves, sizes = [], [], []
    for log in log_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or "ms" not in rec:
                continue
            if rec.get("msg") == "browser profile loaded":
                loads.append(float(rec["ms"]))
            elif rec.get("msg") == "browser profile saved":
                saves.append(float(rec["ms"]))
                sizes.append(int(rec.get("bytes", 0)))
    return loads, saves, sizes


async def room_figures(profile: dict[str, Any], runs: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="wp-bench-profile-"))
    settings = await embedded_settings(
        data,
        ROOM_RUNTIME="local",
        ROOM_CREATES_PER_HOUR=1000,
        REAPER_INTERVAL_SECONDS=3600,
        LOG_LEVEL="INFO",
    )
    port = free_port()
    with signin_site() as site:
        async with live_server(settings, runtime=False, port=port) as live:
            user = await signed_in(live.http)
            # One untimed start first (Chromium's files into the page cache), then the two
            # kinds in turn, each first every other run: whichever went second ran warmer.
            await timed_start(live, user, site.home(), keep=False)
            plain, with_profile = [], []
            for i in range(runs):
                for keep in (False, True) if i % 2 == 0 else (True, False):
                    if keep:
                        await store_profile(live, user, profile)
                        with_profile.append(await timed_start(live, user, site.home(), keep=True))
                    else:
                        plain.append(await timed_start(live, user, site.home(), keep=False))
    load = os.getloadavg()[0]
    print(f"\nroom create -> start page's first frame (local runtime), load {load:.1f}")
    print("| run | without a profile s | with the profile s | added s |\n|---|---|---|---|")
    for i, (a, b) in enumerate(zip(plain, with_profile, strict=True)):
        print(f"| {i + 1} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
    added = statistics.median(with_profile) - statistics.median(plain)
    print(
        f"| median | {statistics.median(plain):.2f} | {statistics.median(with_profile):.2f} "
        f"| {added:+.2f} |"
    )
    loads, saves, sizes = agent_times(data / "rooms")
    if loads and saves:
        print("\nthe agent's own work (CDP and the round trip to the control plane)")
        print("| load ms (median) | save ms (median) | saved JSON KB |\n|---|---|---|")
        print(
            f"| {statistics.median(loads):.0f} | {statistics.median(saves):.0f} | "
            f"{statistics.median(sizes) / 1024:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cookies", type=int, default=300)
    parser.add_argument("--origins", type=int, default=20)
    args = parser.parse_args()
    profile = realistic_profile(args.cookies, args.origins)
    seal_figures(profile)
    asyncio.run(room_figures(profile, args.runs))


if __name__ == "__main__":
    main()
