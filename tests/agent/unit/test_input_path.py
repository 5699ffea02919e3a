"""The agent's one input path: data-channel input and the JSON fallback meet in `InputPath`,
which alone checks the holder, boosts capture and counts."""

from __future__ import annotations

from typing import Any

import pytest
from roomagent.input import wire
from roomagent.input.path import FALLBACK_TYPES, InputPath, KeyPress, from_json


class FakeInjector:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, *args))


def path(holder: str | None = "ana") -> tuple[InputPath, FakeInjector, list[int]]:
    injector, boosts = FakeInjector(), []
    return (
        InputPath(injector, boost=lambda: boosts.append(1), holder_id=holder),  # type: ignore[arg-type]
        injector,
        boosts,
    )


def test_only_the_holder_drives_and_others_are_counted():
    p, injector, _ = path("ana")
    assert p.submit(wire.Button(1, True, 0.5, 0.5), sender="ana")
    assert not p.submit(wire.Button(1, True, 0.5, 0.5), sender="ben")
    assert (p.applied, p.dropped) == (1, 1)
    assert injector.calls == [("button", 1, True, 0.5, 0.5)]
    nobody, injector, _ = path(None)
    assert not nobody.submit(wire.Move(0.1, 0.1), sender="ana")
    assert injector.calls == [] and nobody.dropped == 1


def test_clicks_keys_and_wheels_boost_moves_do_not():
    p, _, boosts = path()
    p.submit(wire.Move(0.1, 0.2), sender="ana")
    assert boosts == []
    for action in (
        wire.Button(1, True, 0.1, 0.2),
        wire.Key("a", "KeyA", frozenset(), True),
        wire.Wheel(0, 120, 0.5, 0.5),
        wire.Text("hé"),
    ):
        p.submit(action, sender="ana")
    assert len(boosts) == 4


def test_a_new_holder_releases_everything_pressed():
    p, injector, _ = path("ana")
    p.set_holder("ben")
    assert injector.calls == [("release_all",)] and p.holder_id == "ben"
    assert not p.submit(wire.Move(0.1, 0.1), sender="ana")


def test_the_json_fallback_becomes_the_data_channel_actions():
    assert from_json("browser.mouse_move", {"x": 0.25, "y": 0.75}) == [wire.Move(0.25, 0.75)]
    assert from_json("browser.click", {"x": 0.5, "y": 0.5, "button": "right"}) == [
        wire.Button(3, True, 0.5, 0.5),
        wire.Button(3, False, 0.5, 0.5),
    ]
    assert from_json("browser.scroll", {"x": 0.5, "y": 0.5, "dx": 0, "dy": 240}) == [
        wire.Wheel(0, 240, 0.5, 0.5)
    ]
    keypress = {"key": "l", "code": "KeyL", "modifiers": ["ctrl", "hyper"]}
    assert from_json("browser.keypress", keypress) == [KeyPress("l", "KeyL", frozenset({"ctrl"}))]
    with pytest.raises(ValueError):
        from_json("browser.navigate", {"url": "https://example.com/"})


@pytest.mark.parametrize("type_", FALLBACK_TYPES)
def test_fallback_input_takes_the_same_path_as_the_holders(type_: str):
    """The control plane forwards fallback input for the holder only: it is applied (and
    boosted, but for moves) even before the agent has heard who holds the remote."""
    p, injector, boosts = path(None)
    data = {"x": 0.5, "y": 0.5, "dx": 1, "dy": 2, "button": "left", "key": "a", "code": "KeyA"}
    for action in from_json(type_, data):
        assert p.submit(action, sender=None)
    assert injector.calls and p.dropped == 0
    assert bool(boosts) == (type_ != "browser.mouse_move")


def test_caps_lock_ctrl_a_is_pressed_as_ctrl_a_and_a_held_shift_still_counts():
    p, injector, _ = path()
    ctrl = frozenset({"ctrl"})
    # With Caps Lock on a browser reports Ctrl+A as "A" without Shift: not Ctrl+Shift+A (which
    # the key policy drops as Chromium's tab search), but Ctrl+A
    assert p.submit(wire.Key("A", "KeyA", ctrl, True), sender="ana")
    assert p.submit(KeyPress("C", "KeyC", ctrl), sender="ana")
    assert injector.calls == [("key", "a", "KeyA", ctrl, True), ("keypress", "c", "KeyC", ["ctrl"])]
    # a Shift that is really held keeps the capital, and the policy sees Ctrl+Shift+A
    assert not p.submit(wire.Key("A", "KeyA", frozenset({"ctrl", "shift"}), True), sender="ana")
    assert p.blocked_keys == {"Ctrl+Shift+A": 1}
