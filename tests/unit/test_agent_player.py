"""The media watcher's pure parts (browser-image/roomagent/player/policy.py, adapters.py),
without a browser: which element is the main one, what `media.state` says, when a state goes
out (changes, every 0.5 s while playing, never more than 5 a second), when the media ended, and
which `media.cmd` is accepted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from roomagent.player import adapters
from roomagent.player.policy import (
    HEARTBEAT_S,
    MIN_INTERVAL_S,
    BadCommand,
    Candidate,
    Reporter,
    choose_main,
    ended_now,
    parse_command,
    state_of,
)


def media(n: int = 1, **kw: Any) -> Candidate:
    base: dict[str, Any] = {
        "key": ("s1", "f1", 7, n),
        "video": True,
        "area": 1280 * 720,
        "ready_state": 4,
        "paused": False,
        "time": 10.0,
        "duration": 60.0,
        "rate": 1.0,
        "muted": False,
        "ended": False,
        "ends": 0,
    }
    base.update(kw)
    return Candidate(**base)


# choosing the main element ------------------------------------------------------------------------
def test_the_largest_visible_video_with_data_is_main() -> None:
    small = media(1, area=320 * 180)
    big = media(2, area=1280 * 720)
    no_data = media(3, area=1920 * 1080, ready_state=0)
    hidden = media(4, area=0)
    assert choose_main([small, big, no_data, hidden], None) == big
    assert choose_main([small, hidden], None) == small
    assert choose_main([no_data, hidden], None) is None
    assert choose_main([], None) is None


def test_a_playing_video_wins_over_a_paused_one_of_the_same_size() -> None:
    paused = media(1, paused=True)
    playing = media(2)
    assert choose_main([paused, playing], None) == playing
    assert choose_main([playing, paused], None) == playing


def test_the_main_element_stays_unless_another_is_clearly_larger() -> None:
    film = media(1, area=1000 * 560)
    preview = media(2, area=1100 * 600)  # larger, but not 1.25x
    assert choose_main([film, preview], film.key) == film
    assert choose_main([film, preview], None) == preview
    huge = media(3, area=1280 * 720 * 2)
    assert choose_main([film, huge], film.key) == huge
    # the current one hidden (scrolled away): the visible one takes over
    assert choose_main([replace(film, area=0), preview], film.key) == preview


def test_audio_counts_only_when_it_plays_and_no_video_shows() -> None:
    song = media(1, video=False, area=0)
    assert choose_main([song], None) == song
    assert choose_main([replace(song, paused=True)], None) is None
    assert choose_main([replace(song, muted=True)], None) is None
    assert choose_main([song, media(2)], None) == media(2)


# the state ----------------------------------------------------------------------------------------
def test_state_of_the_main_element_and_of_none() -> None:
    assert state_of(None, "Page") == {"present": False}
    state = state_of(media(time=12.34567, title=""), "Page title")
    assert state == {
        "present": True,
        "paused": False,
        "time": 12.346,
        "duration": 60.0,
        "rate": 1.0,
        "muted": False,
        "ended": False,
        "title": "Page title",
    }
    # the media's own title wins; a title is cut to 300 characters; live or unknown: null
    assert state_of(media(title="Film"), "Page")["title"] == "Film"
    assert len(state_of(media(), "x" * 1000)["title"]) == 300
    assert state_of(media(duration=None), "")["duration"] is None
    assert state_of(media(duration=float("inf")), "")["duration"] is None
    assert state_of(media(duration=float("nan")), "")["duration"] is None


# when it is reported ------------------------------------------------------------------------------
def test_first_state_and_every_change_go_out_time_moving_at_its_rate_does_not() -> None:
    r = Reporter()
    paused = state_of(media(paused=True), "")
    assert r.offer(0.0, paused)
    assert not r.offer(1.0, paused)  # paused and unchanged: nothing, ever
    assert not r.offer(5.0, paused)
    playing = state_of(media(time=10.0), "")
    assert r.offer(5.0, playing)  # play
    # playing on at its rate: one state every HEARTBEAT_S, no more
    assert not r.offer(5.0 + HEARTBEAT_S / 2, state_of(media(time=10.0 + HEARTBEAT_S / 2), ""))
    assert r.offer(5.0 + HEARTBEAT_S, state_of(media(time=10.0 + HEARTBEAT_S), ""))
    t = 5.0 + HEARTBEAT_S
    # a seek while playing: a jump from where the rate would have taken it
    assert r.offer(t + 0.25, state_of(media(time=40.0), ""))
    # a rate change, a mute, an end: each a change
    assert r.offer(t + 0.5, state_of(media(time=40.25, rate=2.0), ""))
    assert r.offer(t + 0.75, state_of(media(time=40.75, rate=2.0, muted=True), ""))
    ended = state_of(media(time=60.0, rate=2.0, muted=True, paused=True, ended=True), "")
    assert r.offer(t + 1.0, ended)
    assert not r.offer(t + 3.0, ended)
    # the media goes away; and comes back
    assert r.offer(t + 3.25, {"present": False})
    assert not r.offer(t + 9.0, {"present": False})
    assert r.offer(t + 9.25, paused)


def test_a_paused_seek_is_a_change() -> None:
    r = Reporter()
    assert r.offer(0.0, state_of(media(paused=True, time=10.0), ""))
    assert not r.offer(1.0, state_of(media(paused=True, time=10.01), ""))  # rounding
    assert r.offer(2.0, state_of(media(paused=True, time=10.5), ""))  # a small seek, paused
    assert r.offer(3.0, state_of(media(paused=True, time=30.0), ""))


def test_never_more_than_five_a_second_and_the_latest_change_wins() -> None:
    r = Reporter()
    sent: list[dict[str, Any]] = []
    now = 0.0
    # a burst of changes every 10 ms for a second (seeks and rate changes hammered by a page)
    for i in range(100):
        state = state_of(media(time=float(i * 7 % 50), rate=1.0 + (i % 3) / 4), "")
        if r.offer(now, state):
            sent.append(state)
        now += 0.01
    assert len(sent) <= 5
    assert len(sent) >= 4
    # the change held at the end goes out once the interval has passed: the latest one
    latest = state_of(media(time=3.0, rate=2.0), "")
    assert not r.offer(r.sent_at + MIN_INTERVAL_S / 2, latest)
    assert r.held
    assert r.wait(r.sent_at + MIN_INTERVAL_S / 2) == pytest.approx(MIN_INTERVAL_S / 2)
    assert r.offer(r.sent_at + MIN_INTERVAL_S + 1e-6, latest)
    assert r.last == latest and not r.held


# ended --------------------------------------------------------------------------------------------
def test_ended_once_per_end_of_the_same_element() -> None:
    playing = media(time=59.9)
    ended = replace(playing, ended=True, paused=True, time=60.0, ends=1)
    assert ended_now(playing, ended)
    assert not ended_now(ended, ended)  # still ended: not again
    # started again and ended again
    again = replace(ended, ended=True, ends=2)
    assert ended_now(ended, again)
    # an end the look missed (the page started it over at once): the event count says so
    assert ended_now(playing, replace(playing, time=0.1, ends=1))
    # an end seen only by its flag (the listener came after the event)
    assert ended_now(playing, replace(playing, ended=True))
    # another element, or none, is no end
    assert not ended_now(playing, replace(ended, key=("s1", "f1", 7, 9)))
    assert not ended_now(None, ended)
    assert not ended_now(playing, None)


# commands -----------------------------------------------------------------------------------------
def test_commands_are_checked_and_values_clamped() -> None:
    assert parse_command({"action": "play"}) == ("play", None)
    assert parse_command({"action": "pause", "value": 3}) == ("pause", None)
    assert parse_command({"action": "seek", "value": 42}) == ("seek", 42.0)
    assert parse_command({"action": "seek", "value": -5}) == ("seek", 0.0)
    assert parse_command({"action": "seek_by", "value": -10.5}) == ("seek_by", -10.5)
    assert parse_command({"action": "rate", "value": 10}) == ("rate", 4.0)
    assert parse_command({"action": "rate", "value": 0.1}) == ("rate", 0.25)
    assert parse_command({"action": "rate", "value": 1.5}) == ("rate", 1.5)
    for bad in (
        {},
        {"action": "stop"},
        {"action": "seek"},
        {"action": "seek", "value": "10"},
        {"action": "seek", "value": True},
        {"action": "seek_by", "value": float("nan")},
        {"action": "seek", "value": float("inf")},
        {"action": "rate", "value": 0},
        {"action": "rate", "value": -1},
    ):
        with pytest.raises(BadCommand):
            parse_command(bad)


# adapters -----------------------------------------------------------------------------------------
def test_adapters_are_looked_up_by_host_and_parent_domains() -> None:
    custom = adapters.Adapter(name="custom", main_world=True)
    adapters.register("player.example", custom)
    try:
        assert adapters.adapter_for("https://player.example/v/1") is custom
        assert adapters.adapter_for("https://www.player.example/v/1") is custom
        assert adapters.adapter_for("https://PLAYER.example:8443/") is custom
        assert adapters.adapter_for("https://example/") is adapters.GENERIC
        assert adapters.adapter_for("https://notplayer.example/") is adapters.GENERIC
        assert adapters.adapter_for("about:blank") is adapters.GENERIC
        assert adapters.adapter_for("") is adapters.GENERIC
    finally:
        adapters.REGISTRY.pop("player.example")
    cmd = adapters.GENERIC.command(3, "seek", 12.5)
    assert cmd == 'globalThis.__wpMedia.cmd(3, "seek", 12.5)'
    assert adapters.GENERIC.command(1, "play", None).endswith('(1, "play", null)')
