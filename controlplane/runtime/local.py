"""Rooms as local processes: one `python -m roomagent` per room, which launches its own Xvfb,
PulseAudio and Chromium.

For a laptop or a trusted single host only: there is no isolation between the room browser and
the machine. Processes are "labelled" by environment variables that every descendant inherits,
so they are found again by label after an API restart, whatever their pids.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import psutil

from controlplane.runtime.agent_env import agent_env
from controlplane.runtime.base import RuntimeInfo
from controlplane.settings import Settings

log = logging.getLogger(__name__)

MANAGED_ENV = "WATCHPARTY_MANAGED_BY"
MANAGED_VALUE = "watchparty"
DEPLOYMENT_ENV = "WATCHPARTY_DEPLOYMENT"
ROOM_ENV = "WP_ROOM_ID"
STOP_GRACE_SECONDS = 10.0


def _labels(proc: psutil.Process, deployment: str) -> tuple[str, str] | None:
    try:
        environ = proc.environ()
    except (psutil.Error, OSError):
        return None
    if environ.get(MANAGED_ENV) != MANAGED_VALUE or ROOM_ENV not in environ:
        return None
    if environ.get(DEPLOYMENT_ENV) != deployment:
        return None
    return environ[ROOM_ENV], environ.get("WATCHPARTY_RUNTIME_ROLE", "")


def _room_processes(
    deployment: str, room_id: str | None = None
) -> list[tuple[psutil.Process, str, str]]:
    found = []
    for proc in psutil.process_iter():
        labels = _labels(proc, deployment)
        if labels is None:
            continue
        if room_id is None or labels[0] == room_id:
            found.append((proc, labels[0], labels[1]))
    return found


def _parse_ref(runtime_ref: str) -> str | None:
    prefix = "local:"
    return runtime_ref[len(prefix) :] if runtime_ref.startswith(prefix) else None


# What a room's processes take from the API's environment: how to find programs and Python, the
# locale and the temp dir. Nothing else: the API's own settings (SECRET_KEY, DATABASE_URL,
# REDIS_URL, SMTP passwords, ...) must not reach the agent or the Chromium it runs.
INHERITED_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the API's environment a room's processes keep (`INHERITED_ENV`, `LC_*`)."""
    return {k: v for k, v in environ.items() if k in INHERITED_ENV or k.startswith("LC_")}


def room_process_env(
    settings: Settings, *, room_id: uuid.UUID, agent_secret: str, start_url: str | None
) -> dict[str, str]:
    """What a room's agent process gets on top of `inherited_env`: the agent's settings
    (`agent_env`, as in every runtime) and the labels every descendant inherits, by which the
    room's processes are found again."""
    return {
        **agent_env(
            settings=settings, room_id=room_id, agent_secret=agent_secret, start_url=start_url
        ),
        MANAGED_ENV: MANAGED_VALUE,
        DEPLOYMENT_ENV: settings.deployment_id,
        "WATCHPARTY_RUNTIME_ROLE": "agent",
    }


class LocalRuntime:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._log_dir = settings.DATA_DIR / "rooms"
        self._deployment = settings.deployment_id
        self._children: list[subprocess.Popen[bytes]] = []

    def _reap(self) -> None:
        self._children = [p for p in self._children if p.poll() is None]

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._log_dir / f"{room_code}.log"
        env = {
            **inherited_env(os.environ),
            **room_process_env(
                self._settings, room_id=room_id, agent_secret=agent_secret, start_url=start_url
            ),
        }
        proc = await asyncio.to_thread(self._spawn, env, log_path)
        log.info(
            "room agent process started",
            extra={"room": room_code, "room_id": str(room_id), "pid": proc.pid},
        )
        # Polled (not waited on by a thread, which would hold up the API's exit while rooms
        # live on): every status/list call reaps the children that have exited.
        self._children.append(proc)
        return f"local:{room_id}"

    @staticmethod
    def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "roomagent"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives an API restart; found again by its labels
            )

    async def stop(self, *, runtime_ref: str) -> None:
        room_id = _parse_ref(runtime_ref)
        if room_id is None:
            return
        await asyncio.to_thread(self._stop_room, room_id)

    def _stop_room(self, room_id: str) -> None:
        procs = _room_processes(self._deployment, room_id)
        if not procs:
            return
        agents = [p for p, _, role in procs if role == "agent"]
        # The agent tears down its Xvfb, PulseAudio and Chromium on SIGTERM...
        for proc in agents or [p for p, _, _ in procs]:
            try:
                proc.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs([p for p, _, _ in procs], timeout=STOP_GRACE_SECONDS)
        # ...and whatever is still there after the grace period is killed, by label.
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        self._reap()
        log.info("room processes stopped", extra={"room_id": room_id, "killed": len(alive)})

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        self._reap()
        room_id = _parse_ref(runtime_ref)
        procs = (
            await asyncio.to_thread(_room_processes, self._deployment, room_id) if room_id else []
        )
        agent_alive = any(role == "agent" and p.is_running() for p, _, role in procs)
        return RuntimeInfo(
            runtime_ref=runtime_ref,
            room_id=uuid.UUID(room_id) if room_id else None,
            state="running" if agent_alive else "missing",
        )

    async def list_managed(self) -> list[RuntimeInfo]:
        self._reap()
        procs = await asyncio.to_thread(_room_processes, self._deployment)
        rooms: dict[str, bool] = {}
        for _proc, room_id, role in procs:
            rooms[room_id] = rooms.get(room_id, False) or role == "agent"
        infos = []
        for room_id, has_agent in rooms.items():
            try:
                rid = uuid.UUID(room_id)
            except ValueError:
                rid = None
            infos.append(
                RuntimeInfo(
                    runtime_ref=f"local:{room_id}",
                    room_id=rid,
                    state="running" if has_agent else "failed",
                    detail=None if has_agent else "processes left without their agent",
                )
            )
        return infos

    async def aclose(self) -> None:
        # Rooms outlive the API process on purpose; the reaper reconciles them on the next start.
        return None
