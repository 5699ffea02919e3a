"""The room lifecycle as a table: every event from every status, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlplane.models.room import LIVE_STATUSES, RoomStage, RoomStatus
from controlplane.rooms.lifecycle import (
    TABLE,
    AgentReady,
    AgentStage,
    Booting,
    ClaimEnd,
    Fail,
    FinishEnd,
    Launch,
    LifeEvent,
    ReclaimEnd,
    RoomLife,
    StatusNews,
    news_of,
    step,
)

T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
S = RoomStatus
EVENTS: list[LifeEvent] = [
    Launch(),
    Booting(),
    AgentStage(stage=RoomStage.browser_ready),
    AgentReady(video={"width": 1280}),
    Fail(reason="gone"),
    ClaimEnd(reason="ended by the host"),
    ReclaimEnd(since=T0),
    FinishEnd(reason="ended by the host"),
]

# From which statuses each event applies (the rest refuse it): the whole table, spelled out.
APPLIES_FROM = {
    Launch: {S.creating},
    Booting: {S.creating, S.starting},
    AgentStage: {S.creating, S.starting},
    AgentReady: {S.creating, S.starting, S.ready, S.idle},
    Fail: set(LIVE_STATUSES),
    ClaimEnd: {*LIVE_STATUSES, S.failed},
    ReclaimEnd: {S.ending},
    FinishEnd: {S.ending},
}


def test_every_event_has_a_rule():
    assert set(TABLE) == {type(e) for e in EVENTS} == set(APPLIES_FROM)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("status", list(RoomStatus))
def test_which_statuses_an_event_applies_from(event: LifeEvent, status: RoomStatus):
    room = RoomLife(status=status, stage=RoomStage.scheduling, ended_at=T0)
    applied = step(room, event)
    assert (applied is not None) == (status in APPLIES_FROM[type(event)])
    if applied is not None:
        assert applied.room.status == TABLE[type(event)].to


def test_start_up_moves_through_the_stages_and_says_so():
    room = RoomLife(status=S.creating, stage=RoomStage.scheduling)
    launched = step(room, Launch())
    assert launched is not None and launched.room.status == S.starting
    assert launched.news == StatusNews(S.starting, RoomStage.scheduling, agent_connected=False)
    booting = step(launched.room, Booting())
    assert booting is not None and booting.room.stage == RoomStage.booting
    assert booting.news == StatusNews(S.starting, RoomStage.booting, agent_connected=False)
    shown = step(booting.room, AgentStage(stage=RoomStage.browser_ready))
    assert shown is not None
    assert shown.news == StatusNews(S.starting, RoomStage.browser_ready, agent_connected=True)
    ready = step(shown.room, AgentReady(video={"fps": 30}))
    assert ready is not None and ready.room == RoomLife(S.ready, RoomStage.ready)
    assert ready.news == StatusNews(S.ready, RoomStage.ready, True, video={"fps": 30})


def test_the_watcher_never_moves_a_stage_back():
    # The agent said browser_ready before the runtime's poll saw the pod scheduled.
    room = RoomLife(status=S.starting, stage=RoomStage.browser_ready)
    assert step(room, Booting()) is None


def test_a_stage_after_ready_changes_nothing():
    assert step(RoomLife(S.ready, RoomStage.ready), AgentStage(stage=RoomStage.booting)) is None


def test_failing_keeps_the_stage_and_gives_the_reason():
    failed = step(RoomLife(S.starting, RoomStage.booting), Fail(reason="image missing"))
    assert failed is not None and failed.room == RoomLife(S.failed, RoomStage.booting)
    assert failed.news == StatusNews(S.failed, reason="image missing")


def test_only_pooled_events_spare_a_room_given_away_meanwhile():
    given = RoomLife(S.ready, RoomStage.ready, pooled=False)
    assert step(given, Fail(reason="x", only_pooled=True)) is None
    assert step(given, ClaimEnd(reason="surplus", only_pooled=True)) is None
    warm = RoomLife(S.ready, RoomStage.ready, pooled=True)
    assert step(warm, ClaimEnd(reason="surplus", only_pooled=True)) is not None


def test_a_stuck_end_is_taken_over_once():
    stuck = RoomLife(S.ending, ended_at=T0)
    assert step(stuck, ReclaimEnd(since=T0)) is not None
    # Another sweep already took it over (and moved the end time on): this one loses.
    assert step(RoomLife(S.ending, ended_at=datetime.now(UTC)), ReclaimEnd(since=T0)) is None


def test_ends_are_told_by_room_ended_not_room_status():
    for event in (ClaimEnd(reason="x"), ReclaimEnd(since=None), FinishEnd(reason="x")):
        assert news_of(event) is None
