"""Reaper policy with a fake clock: what becomes of a room, and which objects are orphans."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from controlplane.reaper.policy import (
    OutageClock,
    Policy,
    RoomView,
    Verdict,
    after_outage,
    judge,
    orphans,
)
from controlplane.runtime.base import RuntimeInfo

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(
    idle=timedelta(minutes=10),
    max_age=timedelta(hours=4),
    warning=timedelta(seconds=60),
    heartbeat_timeout=timedelta(minutes=2),
    start_timeout=timedelta(seconds=60),
)


def room(**kw: object) -> RoomView:
    base: dict[str, object] = {
        "room_id": uuid.uuid4(),
        "status": "ready",
        "created_at": T0,
        "last_active_at": T0,
        "online": 1,
        "agent_seen_at": T0,
        "runtime_state": "running",
    }
    base.update(kw)
    return RoomView(**base)  # type: ignore[arg-type]


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def test_busy_healthy_room_is_kept():
    r = room(agent_seen_at=at(minutes=59))
    assert judge(r, now=at(minutes=60), policy=POLICY) is Verdict.keep


def test_idle_means_nobody_connected_for_the_idle_time():
    empty = room(online=0, last_active_at=at(minutes=5), agent_seen_at=at(minutes=14))
    assert judge(empty, now=at(minutes=14, seconds=59), policy=POLICY) is Verdict.keep
    assert judge(empty, now=at(minutes=15), policy=POLICY) is Verdict.end_idle
    # Someone connected: never idle, however old the last activity stamp.
    busy = room(online=2, last_active_at=T0, agent_seen_at=at(minutes=59))
    assert judge(busy, now=at(minutes=60), policy=POLICY) is Verdict.keep


def test_max_age_warns_in_the_last_minute_then_ends():
    r = room(agent_seen_at=at(hours=3, minutes=59))
    assert judge(r, now=at(hours=3, minutes=58, seconds=59), policy=POLICY) is Verdict.keep
    assert judge(r, now=at(hours=3, minutes=59), policy=POLICY) is Verdict.warn_max_age
    assert judge(r, now=at(hours=4), policy=POLICY) is Verdict.end_max_age


def test_lost_heartbeat_fails_a_running_room():
    r = room(agent_seen_at=at(minutes=1))
    assert judge(r, now=at(minutes=2, seconds=59), policy=POLICY) is Verdict.keep
    assert judge(r, now=at(minutes=3), policy=POLICY) is Verdict.fail_agent_lost


def test_runtime_gone_fails_at_once_after_a_short_grace():
    r = room(runtime_state="missing", agent_seen_at=at(seconds=30))
    assert judge(r, now=at(seconds=10), policy=POLICY) is Verdict.keep
    assert judge(r, now=at(seconds=31), policy=POLICY) is Verdict.fail_runtime_gone
    failed = room(runtime_state="failed")
    assert judge(failed, now=at(seconds=20), policy=POLICY) is Verdict.fail_runtime_gone


def test_start_timeout():
    r = room(status="starting", agent_seen_at=None)
    assert judge(r, now=at(seconds=59), policy=POLICY) is Verdict.keep
    assert judge(r, now=at(seconds=60), policy=POLICY) is Verdict.fail_start_timeout


def test_ending_wins_over_failing():
    r = room(online=0, runtime_state="missing", agent_seen_at=None)
    assert judge(r, now=at(hours=5), policy=POLICY) is Verdict.end_max_age
    assert judge(r, now=at(minutes=11), policy=POLICY) is Verdict.end_idle


def test_orphans_are_labelled_objects_without_a_live_room():
    live, dead = uuid.uuid4(), uuid.uuid4()
    managed = [
        RuntimeInfo(runtime_ref="a", room_id=live, state="running"),
        RuntimeInfo(runtime_ref="b", room_id=dead, state="running"),
        RuntimeInfo(runtime_ref="c", room_id=None, state="running"),
    ]
    assert [i.runtime_ref for i in orphans(managed, {live})] == ["b", "c"]


def test_warm_pool_browser_is_never_idle_nor_warned_but_is_recycled_and_checked():
    def warm(**kw: object) -> RoomView:
        return room(pooled=True, online=0, last_active_at=T0, **kw)

    # Nobody is ever in a warm browser: that is not idleness, and there is nobody to warn.
    seen = {"agent_seen_at": at(hours=3, minutes=59)}
    assert judge(warm(**seen), now=at(hours=3, minutes=59), policy=POLICY) is Verdict.keep
    # Past the maximum age it is recycled (the pool then starts a fresh one).
    assert judge(warm(**seen), now=at(hours=4), policy=POLICY) is Verdict.end_max_age
    # Its health is watched like any room's.
    assert judge(warm(), now=at(minutes=2), policy=POLICY) is Verdict.fail_agent_lost
    starting = warm(status="starting", agent_seen_at=None)
    assert judge(starting, now=at(seconds=60), policy=POLICY) is Verdict.fail_start_timeout
    # The same room handed to a user, empty for the idle time, is ended.
    claimed = room(online=0, last_active_at=T0, agent_seen_at=at(minutes=9))
    assert judge(claimed, now=at(minutes=10), policy=POLICY) is Verdict.end_idle


def test_an_end_interrupted_midway_is_stuck_after_two_minutes():
    from controlplane.reaper.policy import stuck_ending

    assert not stuck_ending(status="ending", ending_since=T0, now=at(minutes=1, seconds=59))
    assert stuck_ending(status="ending", ending_since=T0, now=at(minutes=2))
    assert stuck_ending(status="ending", ending_since=None, now=T0)  # from before the stamp
    assert not stuck_ending(status="ready", ending_since=T0, now=at(hours=1))


def test_failed_room_is_ended_whatever_else_is_true():
    for extra in ({}, {"online": 0}, {"runtime_state": "missing"}, {"pooled": True}):
        r = room(status="failed", **extra)
        assert judge(r, now=at(seconds=1), policy=POLICY) is Verdict.end_failed


def test_outage_clock_records_the_return_not_the_fall():
    clock = OutageClock()
    clock.saw_up(at(minutes=1))
    assert clock.recovered_at is None  # never down: nothing to excuse
    clock.saw_down()
    clock.saw_down()
    assert clock.recovered_at is None
    clock.saw_up(at(minutes=5))
    clock.saw_up(at(minutes=6))
    assert clock.recovered_at == at(minutes=5)


def test_verdicts_an_outage_fakes_are_held_for_the_grace_only():
    back, grace = at(minutes=5), POLICY.heartbeat_timeout
    held = [Verdict.fail_agent_lost, Verdict.fail_start_timeout, Verdict.end_idle]
    for verdict in held:
        assert after_outage(verdict, now=back, recovered_at=back, grace=grace) is Verdict.keep
        just_before = back + grace - timedelta(seconds=1)
        assert after_outage(verdict, now=just_before, recovered_at=back, grace=grace) is (
            Verdict.keep
        )
        assert after_outage(verdict, now=back + grace, recovered_at=back, grace=grace) is verdict
        assert after_outage(verdict, now=back, recovered_at=None, grace=grace) is verdict
    # What the room itself says is not the outage's doing.
    for verdict in (Verdict.end_max_age, Verdict.fail_runtime_gone, Verdict.end_failed):
        assert after_outage(verdict, now=back, recovered_at=back, grace=grace) is verdict
