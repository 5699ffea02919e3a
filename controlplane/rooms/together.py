"""Watching together (issue 21), the rules: who may drive the page's media and the queue, which
reactions exist, and what the chat's system lines say. Pure: no I/O; the room socket's handlers
(`realtime/client_handlers.py`) and the agent channel apply them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

MediaAction = Literal["play", "pause", "seek", "seek_by", "rate"]
# The reactions a member may send, in the order the room page shows them.
REACTIONS: tuple[str, ...] = ("👍", "😂", "😮", "❤️", "👏")
# A command's value: seconds for `seek` (absolute) and `seek_by` (relative), a rate for `rate`.
RATE_MIN, RATE_MAX = 0.25, 4.0
TITLE_MAX_CHARS = 300


@dataclass(frozen=True)
class Who:
    """Who asks, and who they are to the room: its host and the remote's holder."""

    user_id: str
    host_id: str
    holder_id: str | None

    @property
    def is_host(self) -> bool:
        return self.user_id == self.host_id

    @property
    def holds_remote(self) -> bool:
        return self.holder_id is not None and self.user_id == self.holder_id


def may_control_media(who: Who, *, anyone_can_pause: bool) -> bool:
    """`media.cmd`: everyone while the room's "anyone can pause" is on, else the host and the
    remote's holder."""
    return anyone_can_pause or who.is_host or who.holds_remote


def may_add_to_queue(who: Who, *, queue_host_only: bool) -> bool:
    """`queue.add`: everyone, or only the host and the holder when the host restricted it."""
    return not queue_host_only or who.is_host or who.holds_remote


def may_remove_from_queue(who: Who, *, added_by: str) -> bool:
    """`queue.remove`: the host, or whoever added the entry."""
    return who.is_host or who.user_id == added_by


def may_move_in_queue(who: Who) -> bool:
    """`queue.move`: the host alone orders the queue."""
    return who.is_host


def moved(ids: list[str], entry: str, index: int) -> list[str]:
    """`ids` with `entry` taken out and put back at `index` (clamped to the ends)."""
    rest = [i for i in ids if i != entry]
    index = max(0, min(index, len(rest)))
    return [*rest[:index], entry, *rest[index:]]


def clock(seconds: float) -> str:
    """A media position as people read it: 12:31, or 1:02:03 past an hour."""
    total = int(max(0.0, seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _rate(value: float) -> str:
    return f"{value:g}x"


def target_time(action: MediaAction, value: float | None, now_s: float | None) -> float | None:
    """Where the media will be after the command, as far as the control plane knows: the
    agent's last reported time for play, pause and rate, the target of a seek."""
    if action == "seek":
        return value
    if action == "seek_by":
        if now_s is None or value is None:
            return None
        return max(0.0, now_s + value)
    return now_s


@dataclass(frozen=True)
class MediaLine:
    """A system line waiting to be said: the last command of a burst by one member, with the
    position it leads to (None: unknown) and, for `rate`, the rate."""

    action: MediaAction
    at: float | None
    value: float | None = None


SEEKS: frozenset[str] = frozenset({"seek", "seek_by"})


def merge_media_line(
    pending: MediaLine | None, action: MediaAction, value: float | None, now_s: float | None
) -> MediaLine:
    """The one line a burst of commands by one member comes to (the latest command wins).
    After a seek the burst goes on from where it led, not from the position the agent last
    reported (which may not have caught up with it yet): `seek_by`s add up, and a pause after
    them is said at their target."""
    base = pending.at if pending is not None and pending.action in SEEKS else now_s
    at = target_time(action, value, base)
    return MediaLine(action="seek" if action == "seek_by" else action, at=at, value=value)


def media_line(username: str, line: MediaLine) -> str:
    """The chat's system line for accepted commands: "ana paused at 12:31", "ben skipped to
    40:02"."""
    when = f" at {clock(line.at)}" if line.at is not None else ""
    if line.action == "pause":
        return f"{username} paused{when}"
    if line.action == "play":
        return f"{username} played{when}"
    if line.action == "rate":
        rate = line.value if line.value is not None else 1.0
        return f"{username} set the speed to {_rate(rate)}"
    if line.at is None:
        return f"{username} skipped"
    return f"{username} skipped to {clock(line.at)}"


def up_next_line(title: str | None, url: str) -> str:
    """The system line when the queue moves on."""
    return f"Up next: {(title or url)[:TITLE_MAX_CHARS]}"
