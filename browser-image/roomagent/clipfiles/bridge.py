"""Clipboard and files, the agent's side (docs/protocol.md, "Clipboard and files"): one object
the agent builds with its components and hands the control plane's `clipboard.*` and `file.*`
messages to.

- `clipboard.paste`: the holder's text goes into the room page's focused element
  (`Input.insertText`: as a paste of plain text would, one input event, no keystrokes, so the
  key policy and the keyboard layout play no part).
- Copies (`xclipboard.ClipboardWatcher`) go back to the holder as `clipboard.copied` when
  `policy.copy_goes_back` says so.
- File choosers and uploads: `files.FileChoosers`.
- Downloads are denied (`Browser.setDownloadBehavior`, and the managed policy's
  `DownloadRestrictions`); one the page starts is said to the holder (`download.refused`).

Everything from the control plane names its sender (`by`) and is dropped unless that is the
holder the agent knows (as its input is). Runs on the agent's event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from watchparty_wire.agent import (
    AgentClipboardCopied,
    AgentClipboardPaste,
    AgentDownloadRefused,
    AgentFileCancel,
    AgentFileChunk,
    AgentFileUpload,
    AgentMessage,
)
from watchparty_wire.envelope import read

from ..cdp import Browser
from .files import FileChoosers
from .policy import clean_text, copy_goes_back
from .xclipboard import ClipboardWatcher

log = logging.getLogger("roomagent.clipfiles")

Send = Callable[[AgentMessage], Awaitable[bool]]
Spawn = Callable[[Awaitable[None], str], None]
Handler = Callable[[dict[str, Any]], Awaitable[None]]

# The control plane's messages this takes (agent.Agent routes them here).
TYPES = ("clipboard.paste", "file.upload", "file.chunk", "file.cancel")


class ClipFiles:
    def __init__(
        self,
        *,
        browser: Browser,
        display: str,
        clipboard_max_bytes: int,
        file_max_bytes: int,
        tmp_root: str | None,
        send: Send,
        spawn: Spawn,
        holder: Callable[[], str | None],
        last_input_at: Callable[[], float | None],
    ) -> None:
        self.browser = browser
        self.send = send
        self.spawn = spawn
        self.holder = holder
        self._last_input_at = last_input_at
        self.watcher = ClipboardWatcher(display, clipboard_max_bytes, self._on_copy)
        self.files = FileChoosers(
            browser,
            tmp_root=tmp_root,
            max_bytes=file_max_bytes,
            send=send,
            spawn=spawn,
            holder=holder,
        )
        self._downloads: set[str] = set()
        self._last_paste_at: float | None = None
        self.pastes = 0
        self.copies_sent = 0
        self.dropped = 0
        browser.listeners.append(self._on_event)
        self.handlers: dict[str, Handler] = {
            "clipboard.paste": self._paste,
            "file.upload": lambda d: self.files.upload(read(AgentFileUpload, d)),
            "file.chunk": lambda d: self.files.chunk(read(AgentFileChunk, d)),
            "file.cancel": lambda d: self.files.cancel(read(AgentFileCancel, d)),
        }

    def start(self) -> None:
        self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.stop()
        self.files.close()

    def holder_changed(self, holder: str | None) -> None:
        self.files.holder_changed(holder)

    # paste --------------------------------------------------------------------------------------
    async def _paste(self, data: dict[str, Any]) -> None:
        msg = read(AgentClipboardPaste, data)
        if msg.by != self.holder():
            self.dropped += 1
            log.warning(
                "paste from someone not holding the remote: dropped", extra={"user": msg.by}
            )
            return
        self._last_paste_at = time.monotonic()
        await self.browser.page("Input.insertText", {"text": msg.text})
        self.pastes += 1
        log.info("pasted into the room's page", extra={"user": msg.by, "chars": len(msg.text)})

    # copy ---------------------------------------------------------------------------------------
    def _on_copy(self, raw: bytes | None, size: int) -> None:
        holder = self.holder()
        inputs = [t for t in (self._last_input_at(), self._last_paste_at) if t is not None]
        last = max(inputs) if inputs else None
        if not copy_goes_back(holder=holder, now=time.monotonic(), last_input_at=last):
            log.info("a copy nobody asked for stays in the room", extra={"bytes": size})
            return
        text = clean_text(raw) if raw is not None else ""
        self.copies_sent += 1
        log.info("copy goes back to the holder", extra={"holder": holder, "bytes": size})
        msg = AgentClipboardCopied(text=text, size=size, holder_id=holder or "")
        self.spawn(self._send(msg), "clipboard.copied")

    async def _send(self, msg: AgentMessage) -> None:
        await self.send(msg)

    # downloads ----------------------------------------------------------------------------------
    def _on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if method not in ("Browser.downloadWillBegin", "Page.downloadWillBegin"):
            return
        guid = str(params.get("guid", ""))
        if guid in self._downloads:
            return
        self._downloads.add(guid)
        filename = str(params.get("suggestedFilename", ""))
        url = str(params.get("url", ""))
        log.warning("download refused", extra={"url": url[:200], "file": filename[:100]})
        holder = self.holder()
        if holder is not None:
            msg = AgentDownloadRefused(filename=filename, url=url, holder_id=holder)
            self.spawn(self._send(msg), "download.refused")
