"""Room processes (agent, Xvfb, PulseAudio, Chromium) found by the labels the local runtime puts
in their environment: they outlive their API server by design, so tests and benches find and stop
them here."""

from __future__ import annotations

import time

import psutil

from controlplane.runtime.local import DEPLOYMENT_ENV, ROOM_ENV


def room_processes(deployment: str, room_id: str | None = None) -> list[psutil.Process]:
    """The processes of one deployment's rooms (of one room, with `room_id`)."""
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(DEPLOYMENT_ENV) == deployment and room_id in (None, env.get(ROOM_ENV)):
            found.append(proc)
    return found


def kill_rooms(deployment: str) -> None:
    """Stop every process of a deployment's rooms."""
    for proc in room_processes(deployment):
        try:
            proc.kill()
        except psutil.Error:
            continue


def gone_within(deployment: str, room_id: str, seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := room_processes(deployment, room_id)) and time.monotonic() < deadline:
        time.sleep(0.3)
    return left
