"""Which keys the holder may not press in the room's browser: one table, pure.

The room browser is Chromium in kiosk mode with one window the agent owns. Its own shortcuts
would let whoever holds the remote open what the room must never show or lose: DevTools, the
page's source, file dialogs (open, save, print), Chromium's internal pages, new windows and
tabs the agent does not follow, or close the only window. The managed policy
(`browser-image/policies/watchparty.json`) and the agent's DevTools-protocol guard (`cdp.py`)
block most of what these open; dropping the keys is the first layer, and the only one for
closing, quitting and tabs.

A rule matches when the key is the rule's key and the held modifiers include the rule's (a rule
for Ctrl+W also drops Ctrl+Alt+W): Chromium's accelerators are few, so dropping the rarer
combinations costs nothing and leaves no combination unconsidered.

The key is the one the injector would press (`keymap.dom_to_keysym`, the DOM `key` first), not
what the viewer's `code` claims, and an upper-case letter counts as Shift held: the injector
presses Shift for it (`xinject.Injector.key`), and Chromium sees Ctrl+Shift+O for a Ctrl+"O".
Documented in docs/architecture.md ("The room browser's policies").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from Xlib import XK

from .keymap import dom_to_keysym


@dataclass(frozen=True)
class Rule:
    """Drop `key` (an X keysym name, letters in lower case) when at least `mods` are held."""

    mods: frozenset[str]
    key: str
    why: str

    @property
    def name(self) -> str:
        """The shortcut as people write it, e.g. "Ctrl+Shift+I"."""
        order = ("ctrl", "alt", "shift", "meta")
        parts = [m.capitalize() for m in order if m in self.mods]
        key = self.key.upper() if len(self.key) == 1 else self.key
        return "+".join([*parts, key])


def _rule(spec: str, why: str) -> Rule:
    *mods, key = spec.split("+")
    return Rule(frozenset(m.lower() for m in mods), key if len(key) > 1 else key.lower(), why)


# The table (docs/architecture.md repeats it). Keys are X keysym names.
RULES: tuple[Rule, ...] = (
    # DevTools and the page's source: they show and run anything, file:// included.
    _rule("F12", "DevTools"),
    _rule("Ctrl+Shift+i", "DevTools"),
    _rule("Ctrl+Shift+j", "DevTools console"),
    _rule("Ctrl+Shift+c", "DevTools inspector"),
    _rule("Ctrl+u", "view-source:"),
    # File dialogs: they browse the machine's files, and open or write them.
    _rule("Ctrl+o", "open file dialog"),
    _rule("Ctrl+s", "save page dialog"),
    _rule("Ctrl+p", "print dialog (save as PDF)"),
    _rule("Ctrl+Shift+p", "system print dialog"),
    # Chromium's own pages (chrome://history, downloads, bookmarks, settings, task manager).
    _rule("Ctrl+h", "chrome://history"),
    _rule("Ctrl+j", "chrome://downloads"),
    _rule("Ctrl+Shift+o", "chrome://bookmarks"),
    _rule("Ctrl+Shift+Delete", "chrome://settings/clearBrowserData"),
    _rule("Shift+Escape", "task manager"),
    _rule("Ctrl+d", "bookmark dialog"),
    _rule("Ctrl+Shift+b", "bookmarks bar"),
    _rule("Alt+Shift+i", "feedback dialog"),
    _rule("F1", "help page in a new tab"),
    _rule("Alt+Home", "home page"),
    # The hidden toolbar: address bar and the app menu.
    _rule("Ctrl+l", "address bar"),
    _rule("Alt+d", "address bar"),
    _rule("F6", "address bar"),
    _rule("Alt+f", "app menu"),
    _rule("Alt+e", "app menu"),
    _rule("F10", "app menu"),
    # Context menus (Inspect, View page source, Save as, Print); the right button stays, as
    # pages use it.
    _rule("Menu", "context menu"),
    _rule("Shift+F10", "context menu"),
    # Closing and quitting: the room's only window (the agent reopens it anyway).
    _rule("Ctrl+w", "close tab"),
    _rule("Ctrl+F4", "close tab"),
    _rule("Ctrl+Shift+w", "close window"),
    _rule("Alt+F4", "close window"),
    _rule("Ctrl+q", "quit"),
    _rule("Ctrl+Shift+q", "quit"),
    # Windows and tabs the agent does not follow (tabs are not supported yet): the stream would
    # show a page the room's controls do not drive.
    _rule("Ctrl+n", "new window"),
    _rule("Ctrl+Shift+n", "new incognito window"),
    _rule("Ctrl+t", "new tab"),
    _rule("Ctrl+Shift+t", "reopen closed tab"),
    _rule("Ctrl+Tab", "next tab"),
    _rule("Ctrl+Prior", "previous tab"),
    _rule("Ctrl+Next", "next tab"),
    _rule("Ctrl+Shift+a", "tab search"),
    *(_rule(f"Ctrl+{n}", "select tab") for n in range(1, 10)),
    *(_rule(f"Alt+{n}", "select tab") for n in range(1, 10)),
)


def _keysym(name: str) -> int:
    sym = XK.string_to_keysym(name)
    assert sym, f"no keysym named {name!r}"
    return int(sym)


_BY_SYM: dict[int, tuple[Rule, ...]] = {}
for _r in RULES:
    _sym = _keysym(_r.key)
    _BY_SYM[_sym] = (*_BY_SYM.get(_sym, ()), _r)

_ISO_LEFT_TAB = 0xFE20  # ISO_Left_Tab (XK_xkb, not loaded by default)
_TAB = _keysym("Tab")


def pressed(key: str, code: str = "") -> tuple[int, bool] | None:
    """The X keysym the injector presses for this DOM `key`/`code` (letters in lower case) and
    whether it implies Shift (an upper-case letter, Shift+Tab's own keysym). None: nothing is
    pressed."""
    sym = dom_to_keysym(key, code)
    if sym is None:
        return None
    if 0x41 <= sym <= 0x5A:  # A-Z: the injector presses Shift with the letter's key
        return sym + 0x20, True
    if sym == _ISO_LEFT_TAB:
        return _TAB, True
    return sym, False


def blocked(key: str, code: str, mods: Iterable[str]) -> Rule | None:
    """The rule that drops pressing `key` with `mods` held, or None when it may reach the page."""
    found = pressed(key, code)
    if found is None:
        return None
    sym, shifted = found
    held = set(mods) | ({"shift"} if shifted else set())
    matches = [rule for rule in _BY_SYM.get(sym, ()) if rule.mods <= held]
    # The most specific one names it (Ctrl+Shift+O is the bookmarks, not Ctrl+O's dialog).
    return max(matches, key=lambda rule: len(rule.mods), default=None)
