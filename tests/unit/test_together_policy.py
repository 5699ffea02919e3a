"""Watching together's rules (issue 21), pure: who may drive the media and the queue, how the
queue reorders, and what the chat's system lines say."""

from __future__ import annotations

import pytest

from controlplane.rooms.together import (
    REACTIONS,
    MediaLine,
    Who,
    clock,
    may_add_to_queue,
    may_control_media,
    may_move_in_queue,
    may_remove_from_queue,
    media_line,
    merge_media_line,
    moved,
    up_next_line,
)

HOST, HOLDER, GUEST = "host", "holder", "guest"


def who(user: str, holder: str | None = HOLDER) -> Who:
    return Who(user_id=user, host_id=HOST, holder_id=holder)


@pytest.mark.parametrize(
    ("user", "holder", "anyone", "allowed"),
    [
        (GUEST, HOLDER, True, True),
        (GUEST, HOLDER, False, False),
        (HOST, HOLDER, False, True),
        (HOLDER, HOLDER, False, True),
        (GUEST, None, False, False),  # nobody holds the remote: a guest is not its holder
        (HOST, None, False, True),
    ],
)
def test_media_controls_are_everyones_until_the_host_says_otherwise(
    user: str, holder: str | None, anyone: bool, allowed: bool
) -> None:
    assert may_control_media(who(user, holder), anyone_can_pause=anyone) is allowed


def test_queue_rights() -> None:
    assert may_add_to_queue(who(GUEST), queue_host_only=False)
    assert not may_add_to_queue(who(GUEST), queue_host_only=True)
    assert may_add_to_queue(who(HOLDER), queue_host_only=True)
    assert may_add_to_queue(who(HOST), queue_host_only=True)
    assert may_remove_from_queue(who(GUEST), added_by=GUEST)
    assert not may_remove_from_queue(who(GUEST), added_by=HOLDER)
    assert not may_remove_from_queue(who(HOLDER), added_by=GUEST)  # holding is not owning
    assert may_remove_from_queue(who(HOST), added_by=GUEST)
    assert may_move_in_queue(who(HOST))
    assert not may_move_in_queue(who(HOLDER)) and not may_move_in_queue(who(GUEST))


def test_moving_an_entry_clamps_its_index() -> None:
    ids = ["a", "b", "c", "d"]
    assert moved(ids, "c", 0) == ["c", "a", "b", "d"]
    assert moved(ids, "a", 2) == ["b", "c", "a", "d"]
    assert moved(ids, "a", 99) == ["b", "c", "d", "a"]
    assert moved(ids, "d", 3) == ids


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00"), (751.9, "12:31"), (2402, "40:02"), (3723, "1:02:03"), (-5, "0:00")],
)
def test_clock(seconds: float, shown: str) -> None:
    assert clock(seconds) == shown
    assert clock(float("nan")) == "0:00"


def test_system_lines_say_who_did_what_and_where() -> None:
    assert media_line("ana", merge_media_line(None, "pause", None, 751.2)) == "ana paused at 12:31"
    assert media_line("ana", merge_media_line(None, "play", None, 751.2)) == "ana played at 12:31"
    assert media_line("ben", merge_media_line(None, "seek", 2402.0, 10.0)) == (
        "ben skipped to 40:02"
    )
    assert media_line("ben", merge_media_line(None, "seek_by", 30.0, 60.0)) == (
        "ben skipped to 1:30"
    )
    assert media_line("cy", merge_media_line(None, "rate", 1.5, 3.0)) == (
        "cy set the speed to 1.5x"
    )
    # the agent never said where the media is
    assert media_line("ana", merge_media_line(None, "pause", None, None)) == "ana paused"
    assert media_line("ana", MediaLine(action="seek", at=None)) == "ana skipped"


def test_a_burst_becomes_one_line_where_it_led() -> None:
    line = merge_media_line(None, "seek_by", 10.0, 100.0)
    # the agent has not reported the first seek yet: the second adds to where it led
    line = merge_media_line(line, "seek_by", 10.0, 100.0)
    line = merge_media_line(line, "seek_by", -5.0, 101.0)
    assert media_line("ben", line) == "ben skipped to 1:55"
    line = merge_media_line(line, "seek", 30.0, 101.0)
    assert media_line("ben", line) == "ben skipped to 0:30"
    # the latest command wins; a pause after seeks is said where they led (the agent's report
    # may not have caught up with them)
    assert media_line("ben", merge_media_line(line, "pause", None, 101.0)) == "ben paused at 0:30"
    # after anything but a seek, the agent's report is the position
    line = merge_media_line(None, "pause", None, 101.0)
    assert media_line("ben", merge_media_line(line, "play", None, 102.0)) == "ben played at 1:42"


def test_up_next_line_and_reactions() -> None:
    assert up_next_line(None, "https://example.com/a") == "Up next: https://example.com/a"
    assert up_next_line("A film", "https://example.com/a") == "Up next: A film"
    assert len(up_next_line("x" * 1000, "u")) == len("Up next: ") + 300
    assert REACTIONS == ("👍", "😂", "😮", "❤️", "👏")
