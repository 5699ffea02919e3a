"""Polls the X pointer (XFixes: position + image) and reports changes to every viewer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from Xlib.display import Display

from .input import wire

log = logging.getLogger("roomagent.cursor")


def argb_to_rgba(pixels: list[int]) -> bytes:
    out = bytearray(len(pixels) * 4)
    for i, p in enumerate(pixels):
        a = (p >> 24) & 0xFF
        r, g, b = (p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF
        if 0 < a < 255:  # XFixes images are premultiplied
            r, g, b = (min(255, c * 255 // a) for c in (r, g, b))
        out[i * 4 : i * 4 + 4] = bytes((r, g, b, a))
    return bytes(out)


class CursorWatcher:
    def __init__(
        self,
        display: str,
        width: int,
        height: int,
        send_pos: Callable[[bytes], None],
        send_shape: Callable[[bytes], None],
        hz: float = 60.0,
    ) -> None:
        self.d = Display(display)
        self.has_xfixes = bool(self.d.query_extension("XFIXES"))
        if self.has_xfixes:
            self.d.xfixes_query_version()
        self.width = width
        self.height = height
        self.send_pos = send_pos
        self.send_shape = send_shape
        self.interval = 1 / hz
        self.pos_msg: bytes | None = None
        self.shape_msg: bytes | None = None
        self._serial: int | None = None
        self._task: asyncio.Task[None] | None = None
        # Polls only while someone watches (``set_active``); a new viewer gets the latest state.
        self._active = asyncio.Event()
        self._active.set()
        self.polls = 0

    def set_active(self, active: bool) -> None:
        if active:
            self._active.set()
        else:
            self._active.clear()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cursor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.d.close()

    def poll(self) -> None:
        root = self.d.screen().root
        if self.has_xfixes:
            img = self.d.xfixes_get_cursor_image(root)
            x, y = img.x, img.y
            if img.cursor_serial != self._serial:
                self._serial = img.cursor_serial
                self.shape_msg = wire.cursor_shape(
                    img.width, img.height, img.xhot, img.yhot, argb_to_rgba(img.cursor_image)
                )
                self.send_shape(self.shape_msg)
        else:
            pointer = root.query_pointer()
            x, y = pointer.root_x, pointer.root_y
        msg = wire.cursor_pos(x / max(1, self.width - 1), y / max(1, self.height - 1))
        if msg != self.pos_msg:
            self.pos_msg = msg
            self.send_pos(msg)

    async def _run(self) -> None:
        while True:
            await self._active.wait()
            self.polls += 1
            try:
                self.poll()
            except Exception:
                log.exception("cursor poll failed")
                await asyncio.sleep(1)
            await asyncio.sleep(self.interval)
