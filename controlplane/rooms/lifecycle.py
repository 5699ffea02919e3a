"""The room's life as a state machine: the transitions as a table and a pure `step` (no I/O).

A room row's `status` (and, while it starts, its `stage`) changes only through these events,
applied by the one executor in `rooms/transitions.py`, which turns a rule's guard into the
WHERE clause of a single conditional UPDATE: two processes racing to apply events to one room
never both win, and the winner alone tells the room (`room.status`).

    creating --Launch--> starting --Booting / AgentStage--> starting (a later stage)
    creating, starting, ready, idle --AgentReady--> ready
    any live status --Fail--> failed
    any but ending/ended --ClaimEnd--> ending --FinishEnd--> ended
    ending --ReclaimEnd--> ending (a crashed ender's end, taken over by the reaper)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.models.room import LIVE_STATUSES, RoomStage, RoomStatus
from controlplane.ports import StatusNews


@dataclass(frozen=True)
class RoomLife:
    """What the lifecycle reads of a room."""

    status: RoomStatus
    stage: RoomStage | None = None
    pooled: bool = False
    ended_at: datetime | None = None


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Launch:
    """The runtime is about to be asked for the room's browser."""


@dataclass(frozen=True)
class Booting:
    """The runtime reports the browser scheduled or running (the start watcher)."""


@dataclass(frozen=True)
class AgentStage:
    """The agent reports its start-up progress."""

    stage: RoomStage


@dataclass(frozen=True)
class AgentReady:
    """The agent streams; `video` is what it reported of the stream."""

    video: dict[str, Any]


@dataclass(frozen=True)
class Fail:
    """The room cannot go on; `reason` is for people. `only_pooled`: only while it is still a
    warm browser (not if a user was given it meanwhile)."""

    reason: str
    only_pooled: bool = False


@dataclass(frozen=True)
class ClaimEnd:
    """Start ending the room; its reason is kept if it already has one. `only_pooled` as
    for Fail."""

    reason: str
    only_pooled: bool = False


@dataclass(frozen=True)
class ReclaimEnd:
    """Take over an end its ender left unfinished (it crashed): only while it is still the end
    that began at `since`, so two sweeps never both finish it."""

    since: datetime | None


@dataclass(frozen=True)
class FinishEnd:
    """The room was told and its browser stopped: it has ended."""

    reason: str


LifeEvent = Launch | Booting | AgentStage | AgentReady | Fail | ClaimEnd | ReclaimEnd | FinishEnd


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Rule:
    """From which statuses an event applies, what it sets, and what the room is told."""

    from_: tuple[RoomStatus, ...]
    to: RoomStatus
    # Only from this stage (the start watcher's `booting` never goes back over the agent's).
    from_stage: RoomStage | None = None
    # The stage it sets; None keeps the stage (it keeps its last value once a room fails).
    stage: RoomStage | None = None
    # Whether the agent is connected, as `room.status` says it (None: not said).
    agent_connected: bool | None = None
    # Whether `room.status` is broadcast (an end is announced by `room.ended` instead).
    announce: bool = True


_STARTING = (RoomStatus.creating, RoomStatus.starting)
_NOT_ENDED = (*LIVE_STATUSES, RoomStatus.failed)

TABLE: dict[type[LifeEvent], Rule] = {
    Launch: Rule(
        (RoomStatus.creating,),
        RoomStatus.starting,
        stage=RoomStage.scheduling,
        agent_connected=False,
    ),
    Booting: Rule(
        _STARTING,
        RoomStatus.starting,
        from_stage=RoomStage.scheduling,
        stage=RoomStage.booting,
        agent_connected=False,
    ),
    # The stage is the event's; a stage from a reconnecting agent after `ready` changes nothing.
    AgentStage: Rule(_STARTING, RoomStatus.starting, agent_connected=True),
    # From ready and idle too: a reconnecting agent says `ready` again.
    AgentReady: Rule(
        (*_STARTING, RoomStatus.ready, RoomStatus.idle),
        RoomStatus.ready,
        stage=RoomStage.ready,
        agent_connected=True,
    ),
    Fail: Rule(LIVE_STATUSES, RoomStatus.failed),
    ClaimEnd: Rule(_NOT_ENDED, RoomStatus.ending, announce=False),
    ReclaimEnd: Rule((RoomStatus.ending,), RoomStatus.ending, announce=False),
    FinishEnd: Rule((RoomStatus.ending,), RoomStatus.ended, announce=False),
}


@dataclass(frozen=True)
class Step:
    """The outcome of an event that applies: the room after it, and the news (None: no
    `room.status`)."""

    room: RoomLife
    news: StatusNews | None


def stage_of(event: LifeEvent) -> RoomStage | None:
    """The stage the event sets, from its rule or from the event itself."""
    if isinstance(event, AgentStage):
        return event.stage
    return TABLE[type(event)].stage


def only_pooled(event: LifeEvent) -> bool:
    return isinstance(event, Fail | ClaimEnd) and event.only_pooled


def news_of(event: LifeEvent) -> StatusNews | None:
    """What the room is told when `event` applies (None: no `room.status`). It depends on the
    event alone, so the executor needs no second read of the row to say it."""
    rule = TABLE[type(event)]
    if not rule.announce:
        return None
    return StatusNews(
        status=rule.to,
        stage=stage_of(event),
        agent_connected=rule.agent_connected,
        reason=event.reason if isinstance(event, Fail) else None,
        video=event.video if isinstance(event, AgentReady) else None,
    )


def step(room: RoomLife, event: LifeEvent) -> Step | None:
    """Apply `event` to `room`; None when the event does not apply to it (the caller lost a race,
    or the room has moved on). Pure: the executor makes the same check atomically in SQL."""
    rule = TABLE[type(event)]
    if room.status not in rule.from_:
        return None
    if rule.from_stage is not None and room.stage != rule.from_stage:
        return None
    if only_pooled(event) and not room.pooled:
        return None
    if isinstance(event, ReclaimEnd) and room.ended_at != event.since:
        return None
    after = RoomLife(
        status=rule.to,
        stage=stage_of(event) or room.stage,
        pooled=room.pooled,
        ended_at=room.ended_at,
    )
    return Step(after, news_of(event))
