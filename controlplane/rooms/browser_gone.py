"""When the runtime says a room's browser is gone: one verdict, one reason text, for both who ask
it (the start watcher, `rooms/start_watch.py`, every second while a room starts; the reaper,
`reaper/policy.py`, at every sweep). Pure: what the runtime reported and how long ago the room
was launched in, the reason to fail the room with (or None) out.

- `failed` or `stopped`: the runtime saw the browser end (an image that cannot be pulled, a
  crash, an exit): gone at once.
- `missing`: the runtime cannot find it. A runtime may not list a browser for a moment right
  after it is launched, so only once the room is LAUNCH_GRACE old.
"""

from __future__ import annotations

from datetime import timedelta

from controlplane.runtime.base import RuntimeState

GONE_REASON = "The room's browser stopped"
LAUNCH_GRACE = timedelta(seconds=15)
# The room's status reason is shown to members and stored; a runtime's detail can be long.
REASON_MAX_CHARS = 500


def browser_gone(
    *, state: RuntimeState | None, detail: str | None, launched_for: timedelta
) -> str | None:
    """The reason to fail the room with when its runtime says its browser is gone, else None.
    `detail` is the runtime's readable words on the state (`RuntimeInfo.detail`, never its
    logs, which are for operators); `launched_for` is the room's age."""
    ended = state in ("failed", "stopped")
    vanished = state == "missing" and launched_for >= LAUNCH_GRACE
    if not (ended or vanished):
        return None
    reason = f"{GONE_REASON}: {detail}" if detail else GONE_REASON
    return reason[:REASON_MAX_CHARS]
