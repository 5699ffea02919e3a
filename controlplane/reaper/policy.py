"""What the reaper does with a room: pure functions of a snapshot and the clock. Whether the
runtime's word means the browser is gone is `rooms/browser_gone.py`, the start watcher's rule
too."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from controlplane.models.room import RoomStatus
from controlplane.rooms.browser_gone import browser_gone
from controlplane.runtime.base import RuntimeInfo, RuntimeState


class Verdict(StrEnum):
    keep = "keep"
    warn_max_age = "warn_max_age"
    end_max_age = "end_max_age"
    end_idle = "end_idle"
    fail_start_timeout = "fail_start_timeout"
    fail_agent_lost = "fail_agent_lost"
    fail_runtime_gone = "fail_runtime_gone"
    # A failed room is ended (its chat history kept): nobody can use it, and joins are refused.
    end_failed = "end_failed"


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    max_age: timedelta
    warning: timedelta
    heartbeat_timeout: timedelta
    start_timeout: timedelta


@dataclass(frozen=True)
class RoomView:
    room_id: uuid.UUID
    status: RoomStatus
    created_at: datetime
    last_active_at: datetime
    online: int
    agent_seen_at: datetime | None
    runtime_state: RuntimeState | None
    # A warm-pool browser: nobody is meant to be in it, and nobody is there to warn.
    pooled: bool = False
    # The runtime's readable words on its state (why it failed), for the reason members read.
    runtime_detail: str | None = None

    def browser_gone(self, now: datetime) -> str | None:
        """The reason to fail the room with when its runtime says its browser is gone."""
        return browser_gone(
            state=self.runtime_state, detail=self.runtime_detail, launched_for=now - self.created_at
        )


_STARTING = (RoomStatus.creating, RoomStatus.starting)
_RUNNING = (RoomStatus.ready, RoomStatus.idle)


def judge(room: RoomView, *, now: datetime, policy: Policy) -> Verdict:
    """The one thing to do with `room` now. Ending beats failing beats warning."""
    if room.status == RoomStatus.failed:
        return Verdict.end_failed
    age = now - room.created_at
    if age >= policy.max_age:
        return Verdict.end_max_age
    if not room.pooled and room.online == 0 and now - room.last_active_at >= policy.idle:
        return Verdict.end_idle
    if room.browser_gone(now) is not None:
        return Verdict.fail_runtime_gone
    if room.status in _STARTING and age >= policy.start_timeout:
        return Verdict.fail_start_timeout
    if room.status in _RUNNING:
        seen = room.agent_seen_at or room.created_at
        if now - seen >= policy.heartbeat_timeout:
            return Verdict.fail_agent_lost
    if not room.pooled and age >= policy.max_age - policy.warning:
        return Verdict.warn_max_age
    return Verdict.keep


# Verdicts read from clocks that stop while the database or Redis is down (heartbeats are not
# recorded, presence is not renewed) rather than from the room itself.
HELD_AFTER_OUTAGE = frozenset(
    {Verdict.fail_agent_lost, Verdict.fail_start_timeout, Verdict.end_idle}
)


@dataclass
class OutageClock:
    """When the sweep's own dependencies (database, Redis) were last seen coming back. Pure:
    the sweep reports what its probes saw; one clock per sweeping process, kept across sweeps."""

    down: bool = False
    recovered_at: datetime | None = None

    def saw_down(self) -> None:
        self.down = True

    def saw_up(self, now: datetime) -> None:
        if self.down:
            self.down = False
            self.recovered_at = now


def after_outage(
    verdict: Verdict, *, now: datetime, recovered_at: datetime | None, grace: timedelta
) -> Verdict:
    """Hold the verdicts an outage of the sweep's dependencies fakes (a heartbeat that could not
    be written is not a lost agent) until `grace` after they came back: a room whose agent is
    alive has heartbeated again by then, one whose agent died is failed after it."""
    if recovered_at is not None and now - recovered_at < grace and verdict in HELD_AFTER_OUTAGE:
        return Verdict.keep
    return verdict


# Ending a room takes seconds (tell the room, stop its browser); one `ending` this long was
# interrupted by a crash, and is finished by the reaper.
ENDING_STUCK_AFTER = timedelta(minutes=2)


def stuck_ending(*, status: RoomStatus, ending_since: datetime | None, now: datetime) -> bool:
    return status == RoomStatus.ending and (
        ending_since is None or now - ending_since >= ENDING_STUCK_AFTER
    )


def ends_at(room: RoomView, *, policy: Policy) -> datetime:
    return room.created_at + policy.max_age


def orphans(managed: Iterable[RuntimeInfo], live_room_ids: set[uuid.UUID]) -> list[RuntimeInfo]:
    """Runtime objects carrying our labels whose room is not live (or unknown)."""
    return [info for info in managed if info.room_id is None or info.room_id not in live_room_ids]


REASONS = {
    Verdict.end_max_age: "The room reached its maximum length",
    Verdict.end_idle: "Nobody was in the room",
    Verdict.fail_start_timeout: "The room's browser did not start in time",
    Verdict.fail_agent_lost: "The room's browser stopped responding",
    Verdict.end_failed: "The room failed",
}


def fail_reason(room: RoomView, verdict: Verdict, *, now: datetime) -> str:
    """The reason a room failed by `verdict` is given (members read it): the runtime's, in
    `browser_gone`'s words, when the runtime says its browser is gone."""
    if verdict is Verdict.fail_runtime_gone:
        gone = room.browser_gone(now)
        assert gone is not None, "a fail_runtime_gone verdict needs a gone browser"
        return gone
    return REASONS[verdict]
