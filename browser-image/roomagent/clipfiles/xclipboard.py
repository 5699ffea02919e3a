"""The room browser's clipboard, read from its X server: every time a program there takes the
CLIPBOARD selection (Chromium does on every copy: Ctrl+C, the page's `execCommand('copy')` or
`navigator.clipboard.writeText`), its text is asked for and handed to `on_copy`.

Why X and not the page: one watcher sees every copy of every frame and tab, whatever the page
does to its own events, and nothing is injected into the page. XFixes tells when the selection's
owner changes (`SetSelectionOwnerNotify`); the text is read as UTF8_STRING into a property of a
window of our own. A copy larger than `max_bytes` arrives incrementally (INCR) or with bytes
left: it is reported by its size only (`on_copy(None, size)`), never read whole.

Concurrency: python-xlib is blocking, so one thread of its own owns the X connection and does
every X call; results reach the event loop through `call_soon_threadsafe`. `stop` ends the
thread within `POLL_S`.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
from collections.abc import Callable
from typing import Any

from Xlib import X
from Xlib.display import Display
from Xlib.ext import xfixes

log = logging.getLogger("roomagent.clipboard")

POLL_S = 0.2
# How long the selection's owner may take to answer before the copy is given up.
CONVERT_TIMEOUT_S = 2.0

OnCopy = Callable[[bytes | None, int], None]


class ClipboardWatcher:
    def __init__(self, display: str, max_bytes: int, on_copy: OnCopy) -> None:
        self.display_name = display
        self.max_bytes = max_bytes
        self.on_copy = on_copy
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._owner_event = -1
        self.copies = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        d = Display(self.display_name)
        ext = d.query_extension("XFIXES")
        if not ext:
            log.warning("no XFIXES on the room's X server: copies do not come back")
            d.close()
            return
        d.xfixes_query_version()  # XFixes answers nothing else on a connection before this
        # XFixes' selection events arrive with this type (python-xlib builds their classes per
        # connection, so `isinstance` against its module's class does not hold).
        self._owner_event = int(ext.first_event) + xfixes.XFixesSelectionNotify
        self._thread = threading.Thread(
            target=self._run, args=(d,), name="clipboard-watch", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2 * POLL_S + CONVERT_TIMEOUT_S)

    # the thread ---------------------------------------------------------------------------------
    def _run(self, d: Display) -> None:
        try:
            win = d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
            clipboard = d.intern_atom("CLIPBOARD")
            atoms = {
                "clipboard": clipboard,
                "utf8": d.intern_atom("UTF8_STRING"),
                "prop": d.intern_atom("WP_CLIPBOARD"),
                "incr": d.intern_atom("INCR"),
            }
            d.xfixes_select_selection_input(
                win, clipboard, xfixes.XFixesSetSelectionOwnerNotifyMask
            )
            d.flush()
            while not self._stop.is_set():
                readable, _, _ = select.select([d], [], [], POLL_S)
                if not readable and not d.pending_events():
                    continue
                while d.pending_events():
                    ev = d.next_event()
                    if (
                        ev.type == self._owner_event
                        and ev.sub_code == xfixes.XFixesSetSelectionOwnerNotify
                    ):
                        owner = getattr(ev.owner, "id", ev.owner)
                        if owner not in (X.NONE, win.id):
                            self._read(d, win, atoms)
        except Exception:
            log.exception("clipboard watcher stopped")
        finally:
            d.close()

    def _read(self, d: Display, w: Any, atoms: dict[str, int]) -> None:
        """Ask the owner for the text, wait for its answer, read it (bounded by `max_bytes`)."""
        w.convert_selection(atoms["clipboard"], atoms["utf8"], atoms["prop"], X.CurrentTime)
        d.flush()
        deadline = threading.Event()
        timer = threading.Timer(CONVERT_TIMEOUT_S, deadline.set)
        timer.start()
        try:
            while not deadline.is_set() and not self._stop.is_set():
                if not d.pending_events():
                    select.select([d], [], [], 0.05)
                    continue
                ev = d.next_event()
                if ev.type == X.SelectionNotify and ev.selection == atoms["clipboard"]:
                    break
            else:
                log.warning("the clipboard's owner did not answer")
                return
            if ev.property == X.NONE:
                return  # no text on the clipboard (an image, say)
            units = self.max_bytes // 4 + 1
            prop = w.get_property(atoms["prop"], X.AnyPropertyType, 0, units, delete=True)
        finally:
            timer.cancel()
        if prop is None:
            return
        if prop.property_type == atoms["incr"]:
            value = prop.value
            size = int(value[0]) if len(value) else self.max_bytes + 1
            self._deliver(None, max(size, self.max_bytes + 1))
            return
        value = prop.value
        raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        size = len(raw) + int(prop.bytes_after)
        self._deliver(raw if size <= self.max_bytes else None, size)

    def _deliver(self, raw: bytes | None, size: int) -> None:
        self.copies += 1
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.on_copy, raw, size)
