"""Input injection into the room's X display through XTest (python-xlib)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from Xlib import XK, X
from Xlib.display import Display
from Xlib.ext import xtest

from .keymap import MODIFIER_KEYSYMS, MODIFIER_OF_KEY, char_keysym, dom_to_keysym

log = logging.getLogger("roomagent.input")

BUTTONS: dict[str, int] = {"left": 1, "middle": 2, "right": 3, "back": 8, "forward": 9}
WHEEL_STEP_PX = 50.0
WHEEL_MAX_CLICKS = 10
SHIFT = "shift"


class Injector:
    """Mouse, wheel and keyboard through XTest. Remembers what is pressed so it can release it."""

    def __init__(self, display: str, width: int, height: int) -> None:
        self.d = Display(display)
        if not self.d.query_extension("XTEST"):
            raise RuntimeError("X server lacks XTEST")
        self.width = width
        self.height = height
        self.pressed_keys: dict[str, int] = {}
        self.held_mods: dict[str, int] = {}
        self.pressed_buttons: set[int] = set()
        self._wheel_dx = 0.0
        self._wheel_dy = 0.0
        self._spare_next = 0
        self._load_keymap()
        # No server-side auto-repeat: a key held by XTest would repeat with whatever modifiers
        # are held later (hold "o", then Ctrl: Ctrl+O presses that the key policy never saw).
        # Viewers send their own repeats as key downs, each checked.
        self.d.change_keyboard_control(auto_repeat_mode=X.AutoRepeatModeOff)
        self.d.sync()

    # keyboard mapping -------------------------------------------------------------------
    def _load_keymap(self) -> None:
        first = self.d.display.info.min_keycode
        count = self.d.display.info.max_keycode - first + 1
        mapping = self.d.get_keyboard_mapping(first, count)
        self.per_code = len(mapping[0]) if mapping else 2
        self.sym_to_code: dict[int, tuple[int, int]] = {}
        self.spare: list[int] = []
        for i, syms in enumerate(mapping):
            code = first + i
            if not any(syms):
                self.spare.append(code)
                continue
            for index, sym in enumerate(syms[:2]):
                if sym and sym not in self.sym_to_code:
                    self.sym_to_code[sym] = (code, index)
        # keep a few spares for remapping, the last ones (highest keycodes) first
        self.spare = self.spare[-8:]

    def _remap_spare(self, keysym: int) -> int:
        if not self.spare:
            raise RuntimeError("no spare keycode for unmapped keysym")
        code = self.spare[self._spare_next % len(self.spare)]
        self._spare_next += 1
        self.d.change_keyboard_mapping(code, [(keysym,) * self.per_code])
        self.d.sync()
        return code

    def _code_for(self, keysym: int) -> tuple[int, int]:
        """(keycode, shift level) for a keysym, remapping a spare keycode if needed."""
        found = self.sym_to_code.get(keysym)
        if found is not None:
            return found
        return self._remap_spare(keysym), 0

    # primitives -----------------------------------------------------------------------------
    def _key_event(self, code: int, down: bool) -> None:
        xtest.fake_input(self.d, X.KeyPress if down else X.KeyRelease, code)

    def _modifier(self, mod: str, down: bool) -> None:
        if down and mod not in self.held_mods:
            code, _ = self._code_for(XK.string_to_keysym(MODIFIER_KEYSYMS[mod]))
            self._key_event(code, True)
            self.held_mods[mod] = code
        elif not down and mod in self.held_mods:
            self._key_event(self.held_mods.pop(mod), False)

    def flush(self) -> None:
        self.d.flush()

    # mouse ------------------------------------------------------------------------------------
    def _pixels(self, nx: float, ny: float) -> tuple[int, int]:
        nx = min(max(nx, 0.0), 1.0)
        ny = min(max(ny, 0.0), 1.0)
        return round(nx * (self.width - 1)), round(ny * (self.height - 1))

    def move(self, nx: float, ny: float) -> None:
        x, y = self._pixels(nx, ny)
        xtest.fake_input(self.d, X.MotionNotify, x=x, y=y)
        self.flush()

    def button(
        self, button: int, down: bool, nx: float | None = None, ny: float | None = None
    ) -> None:
        if nx is not None and ny is not None:
            x, y = self._pixels(nx, ny)
            xtest.fake_input(self.d, X.MotionNotify, x=x, y=y)
        if down:
            self.pressed_buttons.add(button)
        elif button not in self.pressed_buttons:
            return
        else:
            self.pressed_buttons.discard(button)
        xtest.fake_input(self.d, X.ButtonPress if down else X.ButtonRelease, button)
        self.flush()

    def click(self, nx: float, ny: float, button: int = 1) -> None:
        self.button(button, True, nx, ny)
        self.button(button, False)

    def wheel(self, dx: float, dy: float, nx: float | None = None, ny: float | None = None) -> None:
        """Accumulate scroll deltas (CSS px); ``flush_wheel`` turns them into clicks."""
        if nx is not None and ny is not None:
            self.move(nx, ny)
        self._wheel_dx = max(-5000.0, min(5000.0, self._wheel_dx + dx))
        self._wheel_dy = max(-5000.0, min(5000.0, self._wheel_dy + dy))

    def flush_wheel(self) -> int:
        sent = 0
        for axis, neg, pos in (("_wheel_dy", 4, 5), ("_wheel_dx", 6, 7)):
            value = getattr(self, axis)
            clicks = int(value / WHEEL_STEP_PX)
            if not clicks:
                continue
            clicks = max(-WHEEL_MAX_CLICKS, min(WHEEL_MAX_CLICKS, clicks))
            setattr(self, axis, value - clicks * WHEEL_STEP_PX)
            button = pos if clicks > 0 else neg
            for _ in range(abs(clicks)):
                xtest.fake_input(self.d, X.ButtonPress, button)
                xtest.fake_input(self.d, X.ButtonRelease, button)
                sent += 1
        if sent:
            self.flush()
        return sent

    # keyboard ---------------------------------------------------------------------------------
    def sync_modifiers(self, mods: Iterable[str], except_mod: str | None = None) -> None:
        wanted = set(mods)
        for mod in MODIFIER_KEYSYMS:
            if mod != except_mod:
                self._modifier(mod, mod in wanted)

    def key(self, key: str, code: str, mods: Iterable[str], down: bool) -> None:
        ident = code or key
        own_mod = MODIFIER_OF_KEY.get(key)
        if not down:
            kc = self.pressed_keys.pop(ident, None)
            if own_mod is not None:
                self.held_mods.pop(own_mod, None)
            if kc is not None:
                self._key_event(kc, False)
                self.flush()
            return
        keysym = dom_to_keysym(key, code)
        if keysym is None:
            return
        self.sync_modifiers(mods, except_mod=own_mod)
        if own_mod is not None:
            if own_mod in self.held_mods:
                return
            kc, _ = self._code_for(keysym)
            self._key_event(kc, True)
            self.held_mods[own_mod] = kc
            self.pressed_keys[ident] = kc
            self.flush()
            return
        if ident in self.pressed_keys:  # auto-repeat: release first
            self._key_event(self.pressed_keys.pop(ident), False)
        kc, level = self._code_for(keysym)
        temp_shift = level == 1 and SHIFT not in self.held_mods
        temp_unshift = (
            level == 0
            and SHIFT in self.held_mods
            and len(key) == 1
            and (key.isalpha() and key == key.lower() and key != key.upper())
        )
        if temp_shift:
            self._modifier(SHIFT, True)
        if temp_unshift:
            self._modifier(SHIFT, False)
        self._key_event(kc, True)
        self.pressed_keys[ident] = kc
        if temp_shift:
            self._modifier(SHIFT, False)
        if temp_unshift:
            self._modifier(SHIFT, True)
        self.flush()

    def keypress(self, key: str, code: str, mods: Iterable[str]) -> None:
        """Press and release one key with the given modifiers, leaving modifiers as they were."""
        before = dict(self.held_mods)
        self.key(key, code, mods, True)
        self.key(key, code, mods, False)
        for mod in list(self.held_mods):
            if mod not in before:
                self._modifier(mod, False)
        self.flush()

    def type_text(self, text: str) -> None:
        """Type arbitrary text (non-ASCII via spare keycodes), independent of held modifiers."""
        saved = dict(self.held_mods)
        for mod in list(self.held_mods):
            self._modifier(mod, False)
        for char in text:
            keysym = char_keysym(char)
            found = self.sym_to_code.get(keysym)
            if found is not None:
                kc, level = found
            else:
                kc, level = self._remap_spare(keysym), 0
            if level == 1:
                self._modifier(SHIFT, True)
            self._key_event(kc, True)
            self._key_event(kc, False)
            if level == 1:
                self._modifier(SHIFT, False)
            self.d.sync()
        for mod in saved:
            self._modifier(mod, True)
        self.flush()

    def release_all(self) -> None:
        for kc in self.pressed_keys.values():
            self._key_event(kc, False)
        self.pressed_keys.clear()
        for kc in self.held_mods.values():
            self._key_event(kc, False)
        self.held_mods.clear()
        for b in sorted(self.pressed_buttons):
            xtest.fake_input(self.d, X.ButtonRelease, b)
        self.pressed_buttons.clear()
        self._wheel_dx = self._wheel_dy = 0.0
        self.flush()

    def close(self) -> None:
        try:
            self.release_all()
        finally:
            self.d.close()
