"""Room processes (agent, Xvfb, PulseAudio, Chromium) found by the labels the local runtime puts
in their environment: they outlive their API server by design, so tests and benches find and stop
them here."""

from __future__ import annotations

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
