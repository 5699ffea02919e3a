"""The room page's file choosers, answered with the holder's files (docs/protocol.md,
"Clipboard and files").

The guard (`cdp.Browser`) intercepts every file chooser of the room's page
(`Page.setInterceptFileChooserDialog`), so no dialog onto the machine's files ever opens. Each
`Page.fileChooserOpened` becomes the room's pending chooser (a newer one replaces it), put to
whoever holds the remote (`file.chooser`). The holder's `file.upload` names the files, the
`file.chunk`s that follow carry their bytes in order; they are written under the room's temp dir
(`tmp_root`: the agent's profile dir, a tmpfs in containers) and, once whole, handed to the page's
`<input type=file>` (`DOM.setFileInputFiles`), which fires the page's own `input` and `change`.
Everything comes from the holder only (`by`), for the chooser put to them, and ends when the
remote changes hands. The page reads a File when it uses it, so the written files stay (the last
`KEEP_UPLOADS` uploads) until the agent exits.

Concurrency: runs on the agent's event loop; one upload at a time, the pending chooser's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import secrets
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from watchparty_wire.agent import (
    AgentFileCancel,
    AgentFileChooser,
    AgentFileChunk,
    AgentFileStatus,
    AgentFileUpload,
    AgentMessage,
)

from ..cdp import Browser, CdpError
from .policy import Upload, safe_name, upload_problem

log = logging.getLogger("roomagent.files")

Send = Callable[[AgentMessage], Awaitable[bool]]
Spawn = Callable[[Awaitable[None], str], None]
KEEP_UPLOADS = 5


@dataclass
class _Chooser:
    id: str
    session: str | None
    backend_node_id: int
    multiple: bool
    accept: str
    holder: str | None
    upload: Upload | None = None
    paths: list[Path] | None = None
    handles: list[IO[bytes]] | None = None


class FileChoosers:
    def __init__(
        self,
        browser: Browser,
        *,
        tmp_root: str | None,
        max_bytes: int,
        send: Send,
        spawn: Spawn,
        holder: Callable[[], str | None],
    ) -> None:
        self.browser = browser
        self.max_bytes = max_bytes
        self.send = send
        self.spawn = spawn
        self.holder = holder
        self.dir = Path(tempfile.mkdtemp(prefix="wp-files-", dir=tmp_root))
        self.pending: _Chooser | None = None
        self._kept: list[Path] = []
        self.opened = 0
        self.handed = 0
        self.dropped = 0  # messages from someone not holding the remote
        browser.listeners.append(self._on_event)

    def close(self) -> None:
        self._drop_pending()
        shutil.rmtree(self.dir, ignore_errors=True)

    # DevTools events (on the reader: nothing awaited here) ---------------------------------------
    def _on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if method == "Page.fileChooserOpened":
            self.spawn(self._opened(params, session), "file-chooser")

    async def _opened(self, params: dict[str, Any], session: str | None) -> None:
        backend = params.get("backendNodeId")
        if not isinstance(backend, int):
            log.warning("a file chooser without its input: ignored")
            return
        accept = ""
        with contextlib.suppress(CdpError, TimeoutError, KeyError, ValueError):
            node = (
                await self.browser.call("DOM.describeNode", {"backendNodeId": backend}, session)
            )["node"]
            attrs = node.get("attributes") or []
            pairs = dict(zip(attrs[::2], attrs[1::2], strict=False))
            accept = str(pairs.get("accept", ""))[:500]
        holder = self.holder()
        chooser = _Chooser(
            id=secrets.token_hex(8),
            session=session,
            backend_node_id=backend,
            multiple=params.get("mode") == "selectMultiple",
            accept=accept,
            holder=holder,
        )
        old = self.pending
        if old is not None and old.upload is not None:
            await self._status(old, "failed", "The page opened another file chooser")
        self._drop_pending()
        self.pending = chooser
        self.opened += 1
        log.info(
            "file chooser opened",
            extra={"chooser": chooser.id, "multiple": chooser.multiple, "holder": holder},
        )
        if holder is not None:
            await self.send(
                AgentFileChooser(
                    id=chooser.id, multiple=chooser.multiple, accept=accept, holder_id=holder
                )
            )

    def holder_changed(self, holder: str | None) -> None:
        """The remote changed hands: the chooser was put to someone else; it is dropped."""
        chooser = self.pending
        if chooser is None or chooser.holder == holder:
            return
        if chooser.upload is not None:
            self.spawn(self._status(chooser, "failed", "The remote changed hands"), "file-status")
        self._drop_pending()

    # control messages ---------------------------------------------------------------------------
    def _chooser_for(self, id_: str, by: str) -> _Chooser | None:
        """The pending chooser `id_`, if `by` holds the remote and it was put to them."""
        chooser = self.pending
        if by != self.holder():
            self.dropped += 1
            log.warning(
                "file message from someone not holding the remote: dropped", extra={"user": by}
            )
            return None
        if chooser is None or chooser.id != id_ or chooser.holder != by:
            return None
        return chooser

    async def upload(self, msg: AgentFileUpload) -> None:
        chooser = self._chooser_for(msg.id, msg.by)
        if chooser is None:
            await self._gone(msg.id, msg.by)
            return
        if chooser.upload is not None:
            log.warning("a second upload for one chooser: ignored", extra={"chooser": chooser.id})
            return
        sizes = [int(f.get("size", -1)) for f in msg.files]
        problem = upload_problem(sizes, multiple=chooser.multiple, max_bytes=self.max_bytes)
        if problem is not None:
            await self._fail(chooser, problem)
            return
        folder = self.dir / chooser.id
        folder.mkdir()
        paths: list[Path] = []
        for i, f in enumerate(msg.files):
            (folder / str(i)).mkdir()
            paths.append(folder / str(i) / safe_name(str(f.get("name", ""))))
        chooser.paths = paths
        chooser.handles = [p.open("wb") for p in paths]
        chooser.upload = Upload(sizes)
        log.info("files on their way", extra={"chooser": chooser.id, "bytes": sum(sizes)})
        if chooser.upload.complete:  # empty files only
            await self._hand_over(chooser)

    async def chunk(self, msg: AgentFileChunk) -> None:
        chooser = self._chooser_for(msg.id, msg.by)
        if chooser is None or chooser.upload is None or chooser.handles is None:
            await self._gone(msg.id, msg.by)
            return
        try:
            data = base64.b64decode(msg.b64, validate=True)
        except (binascii.Error, ValueError):
            await self._fail(chooser, "A chunk is not base64")
            return
        problem = chooser.upload.accept(msg.index, msg.offset, len(data))
        if problem is not None:
            await self._fail(chooser, problem)
            return
        chooser.handles[msg.index].write(data)
        if chooser.upload.complete:
            await self._hand_over(chooser)
        else:
            # Every chunk is acknowledged: the web app keeps a few chunks in flight at most.
            await self._status(chooser, "progress", "")

    async def cancel(self, msg: AgentFileCancel) -> None:
        chooser = self._chooser_for(msg.id, msg.by)
        if chooser is None:
            return
        log.info("file chooser cancelled by the holder", extra={"chooser": chooser.id})
        await self._status(chooser, "cancelled", "")
        self._drop_pending()

    # ---------------------------------------------------------------------------------------------
    async def _hand_over(self, chooser: _Chooser) -> None:
        assert chooser.paths is not None and chooser.handles is not None
        for h in chooser.handles:
            h.close()
        chooser.handles = None
        try:
            await self.browser.call(
                "DOM.setFileInputFiles",
                {
                    "files": [str(p) for p in chooser.paths],
                    "backendNodeId": chooser.backend_node_id,
                },
                chooser.session,
            )
        except (CdpError, TimeoutError) as e:
            log.warning("could not hand the files to the page", extra={"error": str(e)})
            await self._fail(chooser, "The page's file field is gone")
            return
        self.handed += 1
        self._kept.append(self.dir / chooser.id)
        while len(self._kept) > KEEP_UPLOADS:
            shutil.rmtree(self._kept.pop(0), ignore_errors=True)
        log.info(
            "files handed to the page", extra={"chooser": chooser.id, "files": len(chooser.paths)}
        )
        await self._status(chooser, "done", "")
        if self.pending is chooser:
            self.pending = None

    async def _fail(self, chooser: _Chooser, why: str) -> None:
        log.warning("file upload failed", extra={"chooser": chooser.id, "why": why})
        await self._status(chooser, "failed", why)
        self._drop_pending()

    async def _gone(self, id_: str, by: str) -> None:
        if by == self.holder():
            await self.send(
                AgentFileStatus(
                    id=id_,
                    to=by,
                    state="failed",
                    received=0,
                    detail="The page's file chooser is no longer open",
                )
            )

    async def _status(self, chooser: _Chooser, state: str, detail: str) -> None:
        received = chooser.upload.done_bytes if chooser.upload is not None else 0
        target = chooser.holder
        if target is None:
            return
        await self.send(
            AgentFileStatus.model_validate(
                {
                    "id": chooser.id,
                    "to": target,
                    "state": state,
                    "received": received,
                    "detail": detail,
                }
            )
        )

    def _drop_pending(self) -> None:
        chooser, self.pending = self.pending, None
        if chooser is None:
            return
        for h in chooser.handles or []:
            h.close()
        if chooser.paths is not None and chooser.upload is not None and not chooser.upload.complete:
            shutil.rmtree(self.dir / chooser.id, ignore_errors=True)
