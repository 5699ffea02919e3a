"""Room sockets per API process: N API processes on PostgreSQL + a Redis of the bench's own, M
rooms x K members' sockets driven from separate client processes, ramped in steps until the knee.

Each room has a stand-in agent on its agent channel (auth, `ready`, a heartbeat every 10 s: the
rooms' fake runtime starts no browser, as in tests/realtime/test_multiprocess.py) and K members,
each a socket of its own user, spread over the API processes (a room's members on every process,
so every broadcast crosses processes). Every socket acts on the mix of `bench/load_clients.py`
(`Mix`: chat with typing, typing alone, remote requests and releases, reconnect churn, the web
app's keepalive ping). Per step (sockets per API process) the bench adds rooms until the step's
sockets are open, lets them settle, then measures a window: open sockets per process (the
servers' own count, /metrics), API CPU per 1,000 sockets, RSS per socket, chat delivery (send ->
arrival at every member's socket) p50/p99, lost messages and errors, Redis's and PostgreSQL's
CPU, the client processes' CPU (so they are seen not to be the bottleneck) and the load average.
The ramp stops after the first step that misses the target (the knee): chat p99 over
`--target-p99`, an error, a lost message, or a socket that did not open.

    .venv/bin/python -m bench.load [--processes 2] [--clients 10]
        [--steps 250,500,1000,2000,3000,4000,5000,6000] [--window 30] [--settle 10]
        [--workers 2] [--users 40] [--target-p99 50] [--label <name>] [--no-write]

Needs PostgreSQL (the realtime test database, emptied first) and Debian's `redis-server` (a Redis
of the bench's own on a free loopback port, so its CPU is the bench's alone). Writes its
`### <label>` part of docs/performance.md "Sockets per API process" unless `--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import math
import multiprocessing
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.load_clients import AgentSpec, Mix, SocketSpec, raise_nofile, worker_main
from tests.support.cluster import api_server, fresh_database, started
from tests.support.redis_server import redis_server
from tests.support.servers import Server
from tests.support.users import SignedIn, signed_in

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Sockets per API process (`bench/load.py`)"
DRAIN_S = 5.0


@dataclass
class Step:
    """One step of the ramp, measured."""

    target: int  # sockets per API process asked for
    rooms: int
    sockets: list[int]  # open room sockets per API process (its /metrics)
    agents: list[int]  # open agent sockets per API process
    window_s: float
    api_cpu: list[float]  # % of one core, per API process
    api_rss_mb: list[float]
    base_rss_mb: list[float]
    redis_cpu: float
    pg_cpu: float
    client_cpu: float  # all client processes together
    load: tuple[float, float, float]
    latencies_ms: list[float]
    pauses: list[Pauses]  # per API process, over the window
    sent: int
    expected: int
    lost: int
    errors: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    open_failures: dict[str, int] = field(default_factory=dict)
    asked: int = 0  # sockets and agents this step added
    opened: int = 0  # ... of which opened (room.state / auth.ok received)

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else math.nan

    @property
    def cpu_per_1000(self) -> float:
        per = [c / (s / 1000) for c, s in zip(self.api_cpu, self.sockets, strict=True) if s]
        return statistics.mean(per) if per else math.nan

    @property
    def kb_per_socket(self) -> float:
        per = [
            (r - b) * 1024 / s
            for r, b, s in zip(self.api_rss_mb, self.base_rss_mb, self.sockets, strict=True)
            if s
        ]
        return statistics.mean(per) if per else math.nan

    def missed(self, target_p99: float) -> list[str]:
        """Why this step is past the knee (empty: it met the target)."""
        why = []
        if self.opened < self.asked:
            why.append(f"{self.asked - self.opened} of {self.asked} new sockets did not open")
        if sum(self.errors.values()):
            why.append("errors")
        if self.lost:
            why.append(f"{self.lost} deliveries lost")
        if not self.latencies_ms:
            why.append("no chat delivered")
        elif self.pct(0.99) > target_p99:
            why.append(f"chat p99 {self.pct(0.99):.0f} ms > {target_p99:.0f} ms")
        return why


@dataclass(frozen=True)
class Config:
    processes: int = 2
    clients: int = 10
    steps: tuple[int, ...] = (250, 500, 1000, 2000, 3000, 4000, 5000, 6000)
    window_s: float = 30.0
    settle_s: float = 10.0
    workers: int = 2
    users: int = 40
    target_p99: float = 50.0
    mix: Mix = field(default_factory=Mix)
    # cProfile the first API process for the whole run, stats written here (pstats format).
    profile: Path | None = None


class Clients:
    """The client processes (bench/load_clients.py), one pipe each."""

    def __init__(self, n: int, mix: Mix) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for i in range(n):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(theirs, mix, 1000 + i), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    async def ask_all(self, cmds: list[tuple[Any, ...]]) -> list[Any]:
        def ask(pipe: Connection, cmd: tuple[Any, ...]) -> Any:
            pipe.send(cmd)
            return pipe.recv()

        return list(
            await asyncio.gather(
                *(asyncio.to_thread(ask, p, c) for p, c in zip(self.pipes, cmds, strict=True))
            )
        )

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.ask_all([("stop",)] * len(self.pipes)), 60)
        finally:
            for proc in self.procs:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()


@dataclass
class Room:
    code: str
    members: list[SignedIn]


@dataclass
class Watched:
    """The processes a step measures."""

    api: list[psutil.Process]
    redis: psutil.Process
    clients: list[psutil.Process]
    base_rss_mb: list[float]  # the API processes' before any room or socket


class CpuMeter:
    """CPU seconds of a set of processes between two reads (children of none)."""

    def __init__(self, procs: list[psutil.Process]) -> None:
        self.procs = procs

    def read(self) -> list[float]:
        out = []
        for p in self.procs:
            try:
                t = p.cpu_times()
                out.append(t.user + t.system)
            except psutil.Error:
                out.append(math.nan)
        return out


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on the machine (others' work included)."""
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] in ("postgres", "postmaster") and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


def server_env(redis_url: str) -> dict[str, str]:
    """The API processes' settings: the product's defaults, but for the limits a bench of
    thousands of rooms and sockets would hit at once."""
    return {
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "INFO",  # the product's default: a line per socket opened and closed
        "ROOM_PRESENCE_GRACE_SECONDS": "3",  # the product's default (tests use 0.3)
        "ROOM_MAX_LIVE": "1000000",
        "ROOM_CREATES_PER_HOUR": "1000000",
        # One token for the whole run: the clients do not refresh (a refreshed socket sends one
        # `auth` frame per ACCESS_TOKEN_MINUTES, a small part of the load).
        "ACCESS_TOKEN_MINUTES": "720",
    }


async def make_users(servers: list[Server], n: int) -> list[SignedIn]:
    limit = asyncio.Semaphore(4)

    async def one(i: int) -> SignedIn:
        async with (
            limit,
            httpx.AsyncClient(base_url=servers[i % len(servers)].url, timeout=120) as http,
        ):
            return await signed_in(http, username=f"load{os.getpid()}u{i}")

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def make_rooms(
    servers: list[Server], users: list[SignedIn], first: int, count: int, clients: int
) -> list[Room]:
    """Rooms first..first+count-1: room r's members are users r*K .. r*K+K-1 (mod the pool),
    its host the first of them; the others join through the REST API."""
    limit = asyncio.Semaphore(16)
    https = [httpx.AsyncClient(base_url=s.url, timeout=120) for s in servers]

    async def one(r: int) -> Room:
        members = [users[(r * clients + k) % len(users)] for k in range(clients)]
        http = https[r % len(https)]
        async with limit:
            resp = await http.post(
                "/api/rooms",
                json={"title": f"load {r}", "max_participants": clients},
                headers=members[0].headers,
            )
            resp.raise_for_status()
            code = resp.json()["code"]
            for member in members[1:]:
                joined = await http.post(f"/api/rooms/{code}/join", headers=member.headers)
                joined.raise_for_status()
        return Room(code, members)

    try:
        return list(await asyncio.gather(*(one(r) for r in range(first, first + count))))
    finally:
        for http in https:
            await http.aclose()


async def socket_counts(servers: list[Server]) -> tuple[list[int], list[int]]:
    """Open room and agent sockets per API process, as each counts them (/metrics)."""
    rooms, agents = [], []
    # Generous: a saturated API process answers late (and that is a row worth having).
    async with httpx.AsyncClient(timeout=300) as http:
        for server in servers:
            text = (await http.get(f"{server.url}/metrics")).text
            found = {"room": 0, "agent": 0}
            for line in text.splitlines():
                if line.startswith("watchparty_sockets{"):
                    kind = line.split('kind="', 1)[1].split('"', 1)[0]
                    found[kind] = int(float(line.rsplit(" ", 1)[1]))
            rooms.append(found["room"])
            agents.append(found["agent"])
    return rooms, agents


@dataclass
class Pauses:
    """An API process's garbage-collector pauses so far (`watchparty_gc_pause_seconds`, every
    generation together): the count at or under each bucket's bound, and their total seconds."""

    le: dict[float, float]
    total_s: float

    def since(self, before: Pauses) -> Pauses:
        return Pauses(
            {b: n - before.le.get(b, 0.0) for b, n in self.le.items()},
            self.total_s - before.total_s,
        )

    @property
    def longest_ms(self) -> float:
        """The bound of the smallest bucket holding every pause (0 when there were none)."""
        everything = self.le.get(math.inf, 0.0)
        if not everything:
            return 0.0
        return 1000 * min(b for b, n in self.le.items() if n >= everything)

    def over(self, seconds: float) -> int:
        return int(self.le.get(math.inf, 0.0) - self.le.get(seconds, 0.0))


async def gc_pauses(servers: list[Server]) -> list[Pauses]:
    found = []
    async with httpx.AsyncClient(timeout=300) as http:
        for server in servers:
            text = (await http.get(f"{server.url}/metrics")).text
            le: dict[float, float] = {}
            total = 0.0
            for line in text.splitlines():
                value = float(line.rsplit(" ", 1)[1]) if line[:1] == "w" else 0.0
                if line.startswith("watchparty_gc_pause_seconds_bucket{"):
                    bound = float(line.split('le="', 1)[1].split('"', 1)[0])
                    le[bound] = le.get(bound, 0.0) + value
                elif line.startswith("watchparty_gc_pause_seconds_sum{"):
                    total += value
            found.append(Pauses(le, total))
    return found


def rss_mb(procs: list[psutil.Process]) -> list[float]:
    return [p.memory_info().rss / 2**20 for p in procs]


async def run(cfg: Config, *, tmp: Path, on_step: Any = None) -> list[Step]:
    """The ramp; `on_step(step)` is called after each step is measured."""
    raise_nofile()
    await fresh_database()
    runtime_dir = tmp / "rt"
    runtime_dir.mkdir(exist_ok=True)
    steps: list[Step] = []
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        env = server_env(redis.url)
        profiled = {**env, "WP_TEST_PROFILE": str(cfg.profile)} if cfg.profile else env
        servers = [
            stack.enter_context(api_server(tmp, runtime_dir, env=profiled if i == 0 else env))
            for i in range(cfg.processes)
        ]
        api_procs = [psutil.Process(s.process.pid) for s in servers]
        redis_proc = psutil.Process(redis.process.pid)
        users = await make_users(servers, max(cfg.users, cfg.clients))
        clients = Clients(cfg.workers, cfg.mix)
        try:
            watched = Watched(
                api=api_procs,
                redis=redis_proc,
                clients=[psutil.Process(p.pid) for p in clients.procs],
                base_rss_mb=rss_mb(api_procs),
            )
            rooms: list[Room] = []
            for target in cfg.steps:
                step = await _step(
                    cfg, target, servers, users, rooms, clients, runtime_dir, watched
                )
                steps.append(step)
                if on_step is not None:
                    on_step(step)
                if step.missed(cfg.target_p99):
                    break
        finally:
            await clients.stop()
    return steps


async def _step(
    cfg: Config,
    target: int,
    servers: list[Server],
    users: list[SignedIn],
    rooms: list[Room],
    clients: Clients,
    runtime_dir: Path,
    watched: Watched,
) -> Step:
    n, k = len(servers), cfg.clients
    wanted = math.ceil(target * n / k)
    first = len(rooms)
    new = await make_rooms(servers, users, first, wanted - first, k)
    rooms += new
    # Room r (and all its members' sockets) in client process r % W; its agent on process r % N,
    # its member k on process (r + k) % N.
    per_worker: list[tuple[list[AgentSpec], list[SocketSpec]]] = [([], []) for _ in clients.pipes]
    for r, room in enumerate(new, start=first):
        agent_specs, socket_specs = per_worker[r % len(per_worker)]
        st = started(runtime_dir, room.code)
        agent_url = servers[r % n].agent_ws_url
        agent_specs.append(AgentSpec(room.code, str(st.room_id), st.agent_secret, agent_url))
        for i, member in enumerate(room.members):
            server = (r + i) % n
            spec = SocketSpec(
                room.code, member.id, member.access_token, servers[server].ws_url, server
            )
            socket_specs.append(spec)
    opened = await clients.ask_all([("open", a, s) for a, s in per_worker])
    failures: Counter[str] = Counter()
    for o in opened:
        failures.update(o["failures"])
    asked = sum(len(a) + len(s) for a, s in per_worker)
    ok = sum(o["agents_ok"] + o["sockets_ok"] for o in opened)
    await asyncio.sleep(cfg.settle_s)

    api_cpu, redis_cpu = CpuMeter(watched.api), CpuMeter([watched.redis])
    client_cpu = CpuMeter(watched.clients)
    before = (api_cpu.read(), redis_cpu.read(), client_cpu.read(), postgres_cpu())
    pauses_before = await gc_pauses(servers)
    t0 = time.monotonic()
    await clients.ask_all([("measure", True)] * len(clients.pipes))
    await asyncio.sleep(cfg.window_s)
    stats = await clients.ask_all([("measure", False, DRAIN_S)] * len(clients.pipes))
    wall = time.monotonic() - t0
    after = (api_cpu.read(), redis_cpu.read(), client_cpu.read(), postgres_cpu())
    load = os.getloadavg()
    sockets, agents = await socket_counts(servers)
    pauses = [b.since(a) for a, b in zip(pauses_before, await gc_pauses(servers), strict=True)]

    def pct(a: list[float], b: list[float]) -> list[float]:
        return [100 * (y - x) / wall for x, y in zip(a, b, strict=True)]

    step = Step(
        target=target,
        rooms=len(rooms),
        sockets=sockets,
        agents=agents,
        window_s=wall,
        api_cpu=pct(before[0], after[0]),
        api_rss_mb=rss_mb(watched.api),
        base_rss_mb=watched.base_rss_mb,
        redis_cpu=pct(before[1], after[1])[0],
        pg_cpu=100 * (after[3] - before[3]) / wall,
        client_cpu=sum(pct(before[2], after[2])),
        load=load,
        latencies_ms=[x for s in stats for x in s["latencies_ms"]],
        pauses=pauses,
        sent=sum(s["sent"] for s in stats),
        expected=sum(s["expected"] for s in stats),
        lost=sum(s["lost"] for s in stats),
        open_failures=dict(failures),
        asked=asked,
        opened=ok,
    )
    for s in stats:
        step.errors.update(s["errors"])
        step.races.update(s["races"])
        step.actions.update(s["actions"])
    return step


def row(step: Step) -> str:
    errors = sum(step.errors.values()) + sum(step.open_failures.values())
    return (
        f"| {step.target} | {step.rooms} | {'/'.join(map(str, step.sockets))} "
        f"| {'/'.join(f'{c:.0f}' for c in step.api_cpu)} | {step.cpu_per_1000:.1f} "
        f"| {'/'.join(f'{r:.0f}' for r in step.api_rss_mb)} | {step.kb_per_socket:.0f} "
        f"| {len(step.latencies_ms)} | {step.pct(0.5):.1f} | {step.pct(0.99):.1f} "
        f"| {step.lost} | {errors} | {step.redis_cpu:.0f} | {step.pg_cpu:.0f} "
        f"| {step.client_cpu:.0f} "
        f"| {'/'.join(f'{p.total_s * 1000:.0f}' for p in step.pauses)} "
        f"| {'/'.join(str(p.over(0.05)) for p in step.pauses)} "
        f"| {'/'.join(f'{p.longest_ms:.0f}' for p in step.pauses)} "
        f"| {step.load[0]:.1f} |"
    )


HEADER = (
    "| sockets per process (step) | rooms | open sockets per process | API CPU % per process "
    "| API CPU % per 1,000 sockets | API RSS MB per process | KB per socket | chat deliveries "
    "| p50 ms | p99 ms | lost | errors | Redis CPU % | PostgreSQL CPU % | clients CPU % "
    "| GC paused ms | GC pauses over 50 ms | longest GC pause ≤ ms "
    "| load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    return out.stdout.strip() or "?"


def report(steps: list[Step], cfg: Config, label: str) -> str:
    """The run's `### label` part of the section: the table and what it says."""
    today = datetime.date.today().isoformat()
    nofile = raise_nofile()[0]
    lines = [
        f"### {label}",
        "",
        f"Measured {today} at commit {commit()}: {cfg.processes} API processes, rooms of "
        f"{cfg.clients}, {cfg.workers} client processes, a {cfg.window_s:.0f} s window per step "
        f"after {cfg.settle_s:.0f} s of settling, on a {os.cpu_count()}-core machine "
        f"(`ulimit -n` {nofile}). CPU % is of one core; the API's KB per socket is its RSS "
        "growth since the start divided by its open sockets (rooms and agents included).",
        "",
        HEADER,
    ]
    lines += [row(s) for s in steps]
    lines.append("")
    knee = next((s for s in steps if s.missed(cfg.target_p99)), None)
    met = [s for s in steps if not s.missed(cfg.target_p99)]
    if knee is None:
        top = steps[-1].target if steps else 0
        lines.append(f"Every step met the target (chat p99 ≤ {cfg.target_p99:.0f} ms, no error,")
        lines.append(f"nothing lost): no knee up to {top} sockets per process.")
    else:
        good = f"{met[-1].target}" if met else "none"
        lines.append(
            f"Knee: {knee.target} sockets per process missed the target "
            f"({'; '.join(knee.missed(cfg.target_p99))}); the last step that met it: {good}."
        )
    for s in steps:
        extra = []
        if s.errors:
            extra.append(f"errors {dict(s.errors.most_common(5))}")
        if s.open_failures:
            extra.append(f"sockets that did not open {s.open_failures}")
        if s.races:
            extra.append(f"the mix's own races (not errors) {dict(s.races)}")
        if extra:
            lines.append(f"- {s.target}: " + "; ".join(extra))
    actions = Counter[str]()
    for s in steps:
        actions.update(s.actions)
    window = sum(s.window_s for s in steps)
    lines += [
        "",
        f"Frames the clients sent over the windows ({window:.0f} s): "
        + ", ".join(f"`{k}` {v}" for k, v in sorted(actions.items())),
        "",
    ]
    return "\n".join(lines)


def write_doc(part: str, label: str) -> None:
    """Put this run's `### label` part into the section (after the section's other parts)."""
    text = DOC.read_text()
    start = text.find(SECTION + "\n")
    if start < 0:
        raise SystemExit(f"{DOC.name} has no section {SECTION!r}")
    end = text.find("\n## ", start + len(SECTION))
    end = len(text) if end < 0 else end + 1
    section = text[start:end]
    heading = f"### {label}\n"
    at = section.find(heading)
    if at < 0:
        section = section.rstrip("\n") + "\n\n" + part
    else:
        nxt = section.find("\n### ", at + len(heading))
        section = section[:at] + part + (section[nxt + 1 :] if nxt >= 0 else "")
    text = (
        text[:start] + section.rstrip("\n") + "\n" + ("\n" + text[end:] if end < len(text) else "")
    )
    DOC.write_text(text)


@contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wp-bench-load-") as d:
        yield Path(d)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--processes", type=int, default=2, help="API processes")
    ap.add_argument("--clients", type=int, default=10, help="members (sockets) per room")
    ap.add_argument("--steps", default="250,500,1000,2000,3000,4000,5000,6000")
    ap.add_argument("--window", type=float, default=30, help="measuring window per step, s")
    ap.add_argument("--settle", type=float, default=10, help="seconds after a step's sockets open")
    ap.add_argument("--workers", type=int, default=2, help="client processes")
    ap.add_argument("--users", type=int, default=40, help="accounts the members are drawn from")
    ap.add_argument("--target-p99", type=float, default=50)
    ap.add_argument("--chat-per-min", type=float, default=Mix.chat_per_min)
    ap.add_argument("--label", default="now", help="this run's part of the doc's section")
    ap.add_argument("--no-write", action="store_true", help="print only, leave the doc alone")
    ap.add_argument(
        "--profile",
        type=Path,
        help="cProfile the first API process over the whole run into this file, print its top",
    )
    args = ap.parse_args()
    cfg = Config(
        processes=args.processes,
        clients=args.clients,
        steps=tuple(int(s) for s in args.steps.split(",") if s),
        window_s=args.window,
        settle_s=args.settle,
        workers=args.workers,
        users=args.users,
        target_p99=args.target_p99,
        mix=Mix(chat_per_min=args.chat_per_min),
        profile=args.profile.resolve() if args.profile else None,
    )
    print(HEADER, flush=True)
    with _tmpdir() as tmp:
        steps = asyncio.run(run(cfg, tmp=tmp, on_step=lambda s: print(row(s), flush=True)))
    part = report(steps, cfg, args.label)
    print(part)
    if cfg.profile is not None and cfg.profile.exists():
        stats = pstats.Stats(str(cfg.profile))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    if not args.no_write:
        write_doc(part, args.label)
        print(f"(written to {DOC.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
