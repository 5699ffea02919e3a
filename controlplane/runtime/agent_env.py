"""The room agent's configuration as WP_* environment variables (pure, no I/O).

Every runtime passes the same variables, so an agent behaves the same as a local process, in a
Docker container or in a pod. Runtimes add only what is specific to them (their own labels, a
profile directory on their tmpfs, a secret reference instead of the value).
"""

from __future__ import annotations

import uuid

from controlplane.settings import Settings


def agent_env(
    *,
    settings: Settings,
    room_id: uuid.UUID,
    agent_secret: str,
    start_url: str | None,
    control_url: str | None = None,
) -> dict[str, str]:
    """WP_* variables for one room's agent. `control_url` overrides AGENT_CONTROL_URL when the
    runtime knows a better address for the control plane as seen from where the room runs."""
    env = {
        "WP_CONTROL_URL": control_url or settings.AGENT_CONTROL_URL,
        "WP_ROOM_ID": str(room_id),
        "WP_AGENT_SECRET": agent_secret,
        "WP_WIDTH": str(settings.ROOM_WIDTH),
        "WP_HEIGHT": str(settings.ROOM_HEIGHT),
        "WP_FPS": str(settings.ROOM_FPS),
        "WP_CODEC": settings.ROOM_CODEC,
        "WP_BITRATE_KBPS": str(settings.ROOM_BITRATE_KBPS),
        "WP_LOG_LEVEL": settings.LOG_LEVEL,
    }
    if start_url:
        env["WP_START_URL"] = start_url
    return env
