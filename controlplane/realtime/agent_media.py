"""The media figures a room agent's heartbeat carries (docs/protocol.md, "Agent extensions"),
read into bounded, typed values for /metrics (pure: no I/O).

The agent is trusted to be ours but not to be well-formed: anything missing, of the wrong type
or beyond the bounds is dropped, never an error (a heartbeat that failed validation would stop
the room's liveness clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_RUNGS = 16
MAX_VIEWERS = 500


@dataclass(frozen=True)
class RungFigures:
    rung: str
    viewers: int
    keyframes: int
    encode_cpu_percent: float


@dataclass(frozen=True)
class ViewerFigures:
    conn: str
    rung_height: int
    estimate_kbps: float


@dataclass(frozen=True)
class AgentMedia:
    rungs: list[RungFigures] = field(default_factory=list)
    rung_switches: int = 0
    viewers: list[ViewerFigures] = field(default_factory=list)


def _num(v: Any, cap: float = 1e12) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if 0 <= v <= cap else None


def _name(v: Any, limit: int) -> str | None:
    return v[:limit] if isinstance(v, str) and v else None


def media_figures(heartbeat: dict[str, Any]) -> AgentMedia:
    rungs: list[RungFigures] = []
    listed = heartbeat.get("rungs")
    for r in listed[:MAX_RUNGS] if isinstance(listed, list) else []:
        if not isinstance(r, dict):
            continue
        name = _name(r.get("rung"), 16)
        viewers, keys = _num(r.get("viewers")), _num(r.get("keyframes"))
        cpu = _num(r.get("encode_cpu_percent"), 10_000)
        if name is None or viewers is None or keys is None or cpu is None:
            continue
        rungs.append(RungFigures(name, int(viewers), int(keys), cpu))
    viewers_out: list[ViewerFigures] = []
    vq = heartbeat.get("viewer_quality")
    for v in vq[:MAX_VIEWERS] if isinstance(vq, list) else []:
        if not isinstance(v, dict):
            continue
        conn = _name(v.get("conn"), 64)
        height, kbps = _num(v.get("rung"), 10_000), _num(v.get("estimate_kbps"))
        if conn is None or height is None or kbps is None:
            continue
        viewers_out.append(ViewerFigures(conn, int(height), kbps))
    switches = _num(heartbeat.get("rung_switches")) or 0.0
    return AgentMedia(rungs, int(switches), viewers_out)
