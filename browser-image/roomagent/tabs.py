"""The room browser's tabs (issue 22): what a tab is, the strip's rules and the state the room
sees (pure), and the script that mutes a background tab's media.

The DevTools side (opening, switching, closing, adopting a page's new window, the guard on every
tab) is `cdp.Browser`'s; this module holds what needs no browser, so it is unit-tested alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

# A tab's title and address as the room sees them (the same cut as `browser.status`).
TITLE_MAX_CHARS = 300
URL_MAX_CHARS = 2048


class TabRefused(Exception):
    """A tab command the browser will not carry out: `code` is the wire's (docs/protocol.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Tab:
    """One page target of the room's browser, attached on its own DevTools session."""

    target_id: str
    session: str
    title: str = ""
    url: str = ""
    # While its main frame loads (Page.frameStartedLoading .. frameStoppedLoading).
    loading: bool = False
    stopped_loading: asyncio.Event = field(default_factory=asyncio.Event)
    # The identifier of the mute script while the tab is muted (a background tab).
    mute_script: str | None = None

    def __post_init__(self) -> None:
        self.stopped_loading.set()

    def set_info(self, info: dict[str, Any]) -> None:
        self.title = str(info.get("title", ""))[:TITLE_MAX_CHARS]
        self.url = str(info.get("url", ""))[:URL_MAX_CHARS]


def may_open(count: int, cap: int) -> bool:
    return count < cap


def refuse_full(cap: int) -> TabRefused:
    return TabRefused("too_many_tabs", f"The room's browser has at most {cap} tabs")


def after_close(order: list[str], closing: str) -> str | None:
    """Which tab comes to the front when `closing` (the one on screen) closes: the one after it,
    else the one before it, as a browser does; None when it was the last."""
    if closing not in order:
        return order[0] if order else None
    i = order.index(closing)
    rest = order[:i] + order[i + 1 :]
    if not rest:
        return None
    return rest[min(i, len(rest) - 1)]


def state(tabs: list[Tab], active: str | None, cap: int) -> dict[str, Any]:
    """`tabs.state`'s data: every tab in strip order, the one on screen, the cap."""
    return {
        "tabs": [{"id": t.target_id, "title": t.title, "url": t.url} for t in tabs],
        "active": active,
        "max": cap,
    }


# The isolated world the mute script runs in: it shares the page's DOM, not its JavaScript, so
# the page neither sees the muting nor can undo it through a wrapped property.
MUTE_WORLD = "__wp_tabs"

# Mutes every <video>/<audio> of the frame and, while on, any that starts playing or unmutes
# later (capturing listeners on the document: media events do not bubble). Remembers which it
# muted itself, so unmuting leaves the page's own muted elements muted. Runs in every frame of
# the tab, now and in each new document (Page.addScriptToEvaluateOnNewDocument, runImmediately).
# Media not in the document (a detached `new Audio()`) and Web Audio are not reached.
MUTE_JS = """(() => {
  const s = globalThis.__wpMute || (globalThis.__wpMute = {on: false, mine: new Set()});
  s.on = true;
  const mute = (el) => {
    if (!s.on || !(el instanceof HTMLMediaElement) || el.muted) return;
    el.muted = true;
    s.mine.add(el);
  };
  if (!s.hooked) {
    s.hooked = true;
    for (const type of ["play", "playing", "volumechange", "loadstart"]) {
      document.addEventListener(type, (e) => mute(e.target), true);
    }
  }
  document.querySelectorAll("video, audio").forEach(mute);
})()"""

UNMUTE_JS = """(() => {
  const s = globalThis.__wpMute;
  if (!s) return;
  s.on = false;
  for (const el of s.mine) el.muted = false;
  s.mine.clear();
})()"""
