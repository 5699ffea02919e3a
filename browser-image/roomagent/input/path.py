"""The one way input reaches the room's browser, whoever sends it.

Data-channel messages (`wire`) and the control channel's JSON fallback (converted by `from_json`
into the same messages) both go through `InputPath.submit`: the holder check, the key policy
(`keypolicy.py`), the input boost and the counters are here and nowhere else. Runs on the
agent's event loop only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import keypolicy, wire
from .keymap import shortcut_key
from .xinject import BUTTONS, Injector

log = logging.getLogger("roomagent.input")


@dataclass(frozen=True)
class KeyPress:
    """Press and release one key with these modifiers, leaving held modifiers as they were (the
    JSON fallback's `browser.keypress`, which has no separate key down and key up)."""

    key: str
    code: str
    mods: frozenset[str]


Action = wire.Message | KeyPress

# The JSON fallback messages (docs/protocol.md, "Control plane → agent"); each is one or more
# input actions.
FALLBACK_TYPES = ("browser.mouse_move", "browser.click", "browser.scroll", "browser.keypress")


def from_json(type_: str, data: dict[str, Any]) -> list[Action]:
    """A JSON fallback message as the data channel's actions (the hub validated its fields)."""
    x, y = float(data.get("x", 0)), float(data.get("y", 0))
    if type_ == "browser.mouse_move":
        return [wire.Move(x, y)]
    if type_ == "browser.click":
        button = BUTTONS.get(str(data.get("button", "left")), 1)
        return [wire.Button(button, True, x, y), wire.Button(button, False, x, y)]
    if type_ == "browser.scroll":
        return [wire.Wheel(float(data.get("dx", 0)), float(data.get("dy", 0)), x, y)]
    if type_ == "browser.keypress":
        mods = frozenset(m for m in data.get("modifiers", []) if m in wire.MOD_BITS)
        return [KeyPress(str(data["key"]), str(data.get("code", "")), mods)]
    raise ValueError(f"not an input message: {type_}")


class InputPath:
    def __init__(
        self, injector: Injector, *, boost: Callable[[], None], holder_id: str | None
    ) -> None:
        self.injector = injector
        self._boost = boost
        self.holder_id = holder_id
        self.applied = 0
        self.dropped = 0
        # When the holder last clicked, typed or scrolled (monotonic; None: never): a copy the
        # page makes soon after goes back to them (clipfiles/policy.py).
        self.last_input_at: float | None = None
        # Key presses the key policy dropped (keypolicy.RULES), by the rule's name.
        self.blocked_keys: dict[str, int] = {}
        self._apply: dict[type[Any], Callable[[Any], None]] = {
            wire.Move: lambda m: injector.move(m.x, m.y),
            wire.Button: lambda m: injector.button(m.button, m.down, m.x, m.y),
            wire.Wheel: lambda m: injector.wheel(m.dx, m.dy, m.x, m.y),
            wire.Key: lambda m: injector.key(m.key, m.code, m.mods, m.down),
            wire.Text: lambda m: injector.type_text(m.text),
            wire.ReleaseAll: lambda m: injector.release_all(),
            KeyPress: lambda m: injector.keypress(m.key, m.code, sorted(m.mods)),
        }

    def set_holder(self, holder_id: str | None) -> None:
        """The remote changed hands: nothing the previous holder pressed stays pressed."""
        self.injector.release_all()
        self.holder_id = holder_id

    def submit(self, action: Action, *, sender: str | None) -> bool:
        """Apply `action` if it comes from the holder. `sender` is the viewer's user id, or None
        for the control channel's fallback, which the hub forwards only for the holder."""
        if sender is not None and (self.holder_id is None or sender != self.holder_id):
            self.dropped += 1
            return False
        apply = self._apply.get(type(action))
        if apply is None:  # a ping is answered by the channel, never applied
            return False
        if isinstance(action, wire.Key | KeyPress):
            # Caps Lock's Ctrl+A ("A", no Shift) is Ctrl+A, for the key policy and the press.
            action = replace(action, key=shortcut_key(action.key, action.mods))
            if self._blocked(action):
                return False
        self.applied += 1
        if not isinstance(action, wire.Move):
            self._boost()  # a click, key, text or wheel changes the screen soon
            self.last_input_at = time.monotonic()
        apply(action)
        return True

    def _blocked(self, action: wire.Key | KeyPress) -> bool:
        """A key press the key policy drops (its release needs no check: the injector releases
        only what it pressed)."""
        if isinstance(action, wire.Key) and not action.down:
            return False
        rule = keypolicy.blocked(action.key, action.code, action.mods)
        if rule is None:
            return False
        count = self.blocked_keys.get(rule.name, 0) + 1
        self.blocked_keys[rule.name] = count
        if count == 1:
            log.info("key dropped by the key policy", extra={"key": rule.name, "why": rule.why})
        return True
