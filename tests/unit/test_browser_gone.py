"""The one verdict on "the runtime says the browser is gone", shared by the start watcher and the
reaper (controlplane/rooms/browser_gone.py): when it holds, and the one reason members read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from controlplane.reaper.policy import Policy, RoomView, Verdict, fail_reason, judge
from controlplane.rooms.browser_gone import (
    GONE_REASON,
    LAUNCH_GRACE,
    REASON_MAX_CHARS,
    browser_gone,
)

JUST_LAUNCHED = timedelta(seconds=1)


def test_a_browser_the_runtime_saw_end_is_gone_at_once_with_its_detail() -> None:
    for state in ("failed", "stopped"):
        got = browser_gone(state=state, detail="ErrImagePull", launched_for=JUST_LAUNCHED)
        assert got == "The room's browser stopped: ErrImagePull"
        assert browser_gone(state=state, detail=None, launched_for=JUST_LAUNCHED) == GONE_REASON


def test_a_browser_the_runtime_cannot_find_is_gone_only_after_the_launch_grace() -> None:
    just_before = LAUNCH_GRACE - timedelta(milliseconds=1)
    assert browser_gone(state="missing", detail=None, launched_for=just_before) is None
    assert browser_gone(state="missing", detail=None, launched_for=LAUNCH_GRACE) == GONE_REASON


def test_a_browser_starting_or_running_or_unknown_is_not_gone() -> None:
    for state in ("starting", "running", None):
        assert browser_gone(state=state, detail="x", launched_for=timedelta(hours=1)) is None


def test_the_reason_is_bounded() -> None:
    got = browser_gone(state="failed", detail="x" * 2000, launched_for=JUST_LAUNCHED)
    assert got is not None and len(got) == REASON_MAX_CHARS


def test_the_reaper_judges_and_words_it_the_same_way() -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    policy = Policy(
        idle=timedelta(minutes=10),
        max_age=timedelta(hours=4),
        warning=timedelta(seconds=60),
        heartbeat_timeout=timedelta(minutes=2),
        start_timeout=timedelta(seconds=60),
    )
    view = RoomView(
        room_id=uuid.uuid4(),
        status="ready",  # type: ignore[arg-type]
        created_at=t0,
        last_active_at=t0,
        online=1,
        agent_seen_at=t0,
        runtime_state="failed",
        runtime_detail="container exited with code 1",
    )
    now = t0 + JUST_LAUNCHED
    assert judge(view, now=now, policy=policy) is Verdict.fail_runtime_gone
    assert fail_reason(view, Verdict.fail_runtime_gone, now=now) == (
        "The room's browser stopped: container exited with code 1"
    )
    assert fail_reason(view, Verdict.fail_agent_lost, now=now) == (
        "The room's browser stopped responding"
    )
