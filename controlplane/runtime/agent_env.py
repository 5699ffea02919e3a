"""The room agent's configuration as WP_* environment variables (pure, no I/O).

Every runtime passes these same variables, so an agent behaves the same as a local process, in a
Docker container or in a pod; each key is a field of the agent's `AgentSettings`
(`tests/unit/test_agent_env.py`). Runtimes only choose the values that depend on where the room
runs (the control plane's address as seen from there, a profile directory on their tmpfs); the
Kubernetes builder passes the secret as a `secretKeyRef` instead of its value.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from controlplane.settings import Settings, is_loopback_host

# Viewer connections beyond the room's capacity: a member's second tab, a reconnect whose old
# peer is not closed yet.
VIEWER_MARGIN = 5


def max_viewers(settings: Settings) -> int:
    """The agent's viewer cap: ROOM_AGENT_MAX_VIEWERS, else the largest capacity a room can have
    (a warm browser starts before its room, and so its capacity, is known) plus a margin."""
    if settings.ROOM_AGENT_MAX_VIEWERS is not None:
        return settings.ROOM_AGENT_MAX_VIEWERS
    return settings.ROOM_MAX_PARTICIPANTS_CAP + VIEWER_MARGIN


LOOPBACK_ALIASES = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


def control_plane_hosts(
    settings: Settings, control_url: str, host_addresses: Sequence[str] = ()
) -> list[str]:
    """What the room browser may never connect to (the agent's WP_BLOCKED_HOSTS): the control
    plane's addresses (where its agent dials, AGENT_CONTROL_URL, PUBLIC_URL) and the host's as
    the room sees it (`host_addresses`), each a host or `host:port`.

    The network rules already keep rooms to the agent port; this keeps a page the room shows
    from even that, and covers local rooms, which have no network rules. A loopback address is
    blocked on the control plane's port only: a local room's browser shares this machine's
    loopback with whatever else the user runs there."""
    entries: list[str] = []
    for url in (control_url, settings.AGENT_CONTROL_URL, settings.PUBLIC_URL):
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            continue
        if is_loopback_host(host) or host in ("0.0.0.0", "::"):
            port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
            entries += [f"{alias}:{port}" for alias in LOOPBACK_ALIASES]
        else:
            entries.append(host)
    entries += host_addresses
    return list(dict.fromkeys(entries))


def agent_env(
    *,
    settings: Settings,
    room_id: uuid.UUID,
    agent_secret: str,
    start_url: str | None,
    control_url: str | None = None,
    profile_dir: str | None = None,
    host_addresses: Sequence[str] = (),
) -> dict[str, str]:
    """WP_* variables for one room's agent. `control_url` overrides AGENT_CONTROL_URL when the
    runtime knows a better address for the control plane as seen from where the room runs, and
    `host_addresses` are the host's addresses as seen from there (the room browser is kept off
    both). ICE servers carry STUN only: TURN credentials are short-lived and reach the agent in
    `auth.ok`."""
    control_url = control_url or settings.AGENT_CONTROL_URL
    env = {
        "WP_CONTROL_URL": control_url,
        "WP_ROOM_ID": str(room_id),
        "WP_AGENT_SECRET": agent_secret,
        "WP_WIDTH": str(settings.ROOM_WIDTH),
        "WP_HEIGHT": str(settings.ROOM_HEIGHT),
        "WP_FPS": str(settings.ROOM_FPS),
        "WP_CODEC": settings.ROOM_CODEC,
        "WP_BITRATE_KBPS": str(settings.ROOM_BITRATE_KBPS),
        "WP_QUALITY": settings.ROOM_QUALITY,
        "WP_VIDEO_PLAYOUT": settings.ROOM_VIDEO_PLAYOUT,
        "WP_LADDER": settings.ROOM_LADDER,
        "WP_LOG_LEVEL": settings.LOG_LEVEL,
        "WP_MAX_VIEWERS": str(max_viewers(settings)),
        "WP_MAX_TABS": str(settings.ROOM_MAX_TABS),
        # The reaper fails a room whose agent was silent this long; the agent gives up as long
        # without its control plane, so a room never outlives a control plane gone for good.
        "WP_CONTROL_LOST_S": str(settings.ROOM_HEARTBEAT_TIMEOUT_SECONDS),
        "WP_ICE_SERVERS": json.dumps(
            [{"urls": list(settings.STUN_URLS)}] if settings.STUN_URLS else []
        ),
        "WP_BLOCKED_HOSTS": json.dumps(control_plane_hosts(settings, control_url, host_addresses)),
        # Loopback and internal hosts stay off the browser policy the agent installs itself
        # (a local room's); its schemes (file:, chrome:, ...) are blocked whatever this says.
        "WP_ALLOW_PRIVATE_URLS": "true" if settings.ROOM_ALLOW_PRIVATE_URLS else "false",
        # Used only by a room that keeps its host's browser profile (`auth.ok`'s keep_profile).
        "WP_PROFILE_SAVE_S": str(settings.PROFILE_SAVE_INTERVAL_SECONDS),
        # Clipboard and files (issue 22): the agent cuts what it copies back and refuses files
        # past these, whatever reaches it.
        "WP_CLIPBOARD_MAX_BYTES": str(settings.ROOM_CLIPBOARD_MAX_BYTES),
        "WP_FILE_MAX_BYTES": str(settings.ROOM_FILE_MAX_BYTES),
    }
    if profile_dir:
        env["WP_PROFILE_DIR"] = profile_dir
    if start_url:
        env["WP_START_URL"] = start_url
    return env
