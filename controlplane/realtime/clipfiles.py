"""Clipboard and files (issue 22) on the room socket and the agent channel: the holder pastes
text into the room's page and gets back what they copy there; a file chooser the page opens is
put to the holder, whose files reach the agent in chunks over this socket; a download the page
starts is refused, and the holder is told (docs/protocol.md, "Clipboard and files").

Holder only, both ways: every client message here is refused with `not_holder` unless its sender
holds the remote now (and the agent drops what it forwards unless `by` is its holder); what the
agent reports goes to the user it names only while they still hold the remote. The sizes are
`rooms/clipfiles.py`'s (pure) against ROOM_CLIPBOARD_MAX_BYTES and ROOM_FILE_MAX_BYTES; the
socket's frame limit and flood guard apply to every chunk, and one socket forwards at most
FILE_BYTES_PER_SECOND of file bytes to the agent (the agent socket's outbox is 1 MiB: a holder
must not be able to fill it). Stateless across replicas: the agent holds the upload's state.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from watchparty_wire import agent as wa
from watchparty_wire import room as w
from watchparty_wire.agent import (
    AgentClipboardPaste,
    AgentFileCancel,
    AgentFileChunk,
    AgentFileUpload,
)
from watchparty_wire.envelope import Outbound
from watchparty_wire.room import (
    ClipboardCopiedOut,
    DownloadRefusedOut,
    FileChooserOut,
    FileStatusOut,
)

from controlplane.errors import DomainError, Kind
from controlplane.realtime.bus import AGENT, Address
from controlplane.realtime.connections import AgentConn, ClientConn
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState
from controlplane.rooms.clipfiles import (
    b64_decoded_size,
    chunk_problem,
    paste_problem,
    upload_problem,
    utf8_size,
)
from controlplane.settings import Settings

log = logging.getLogger(__name__)

# File bytes one socket forwards to the agent per second at most (the web app sends at half of
# it); past it a chunk is refused with `rate_limited` and the agent fails the upload.
FILE_BYTES_PER_SECOND = 4 * 1024 * 1024
# `clipboard.copied` relayed at most this often per agent connection, the latest winning.
COPIED_INTERVAL_S = 0.25


class ClipFilesIO(Protocol):
    """What of the hub this needs (a part of `client_handlers.RoomIO`)."""

    async def direct(self, room_id: str, to: Address, msg: Outbound) -> None: ...

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]: ...


def _refuse(kind: Kind, code: str, detail: Any) -> DomainError:
    return DomainError(kind, code, detail)


class ClipFiles:
    def __init__(self, *, io: ClipFilesIO, settings: Settings, presence: Presence) -> None:
        self.io = io
        self.settings = settings
        self.presence = presence
        # File bytes forwarded per socket in the current second: conn id -> (window start, bytes).
        # Entries of sockets that went are dropped once they are a minute old.
        self._budget: dict[str, tuple[float, int]] = {}

    # ---------------------------------------------------------------- checks

    async def _holder(self, room_id: str) -> str | None:
        _, state = await self.io.remote_state(room_id)
        return state.holder_id

    async def _require_holder_and_agent(self, conn: ClientConn) -> None:
        if await self._holder(conn.room_id) != conn.user_id:
            raise _refuse(Kind.forbidden, "not_holder", "Only the holder of the remote can do that")
        if await self.presence.agent(conn.room_id) is None:
            raise _refuse(
                Kind.unavailable, "agent_unavailable", "The room's browser is not connected yet"
            )

    def _spend(self, conn_id: str, size: int) -> bool:
        now = time.monotonic()
        if len(self._budget) > 1000:
            self._budget = {k: v for k, v in self._budget.items() if now - v[0] < 60}
        start, spent = self._budget.get(conn_id, (now, 0))
        if now - start >= 1.0:
            start, spent = now, 0
        if spent + size > FILE_BYTES_PER_SECOND:
            self._budget[conn_id] = (start, spent)
            return False
        self._budget[conn_id] = (start, spent + size)
        return True

    # ---------------------------------------------------------------- room socket

    async def paste(self, conn: ClientConn, msg: w.ClipboardPaste) -> None:
        """The holder's text, into the room page's focused field (the agent inserts it)."""
        problem = paste_problem(msg.text, self.settings.ROOM_CLIPBOARD_MAX_BYTES)
        if problem is not None:
            raise _refuse(Kind.invalid, "clipboard_too_large", problem)
        await self._require_holder_and_agent(conn)
        await self.io.direct(
            conn.room_id, AGENT, AgentClipboardPaste(text=msg.text, by=conn.user_id)
        )
        log.info(
            "clipboard pasted",
            extra={"room": conn.room_id, "user_id": conn.user_id, "bytes": utf8_size(msg.text)},
        )

    async def file_upload(self, conn: ClientConn, msg: w.FileUpload) -> None:
        problem = upload_problem(
            msg.files, multiple=None, max_bytes=self.settings.ROOM_FILE_MAX_BYTES
        )
        if problem is not None:
            raise _refuse(Kind.invalid, "file_too_large", problem)
        await self._require_holder_and_agent(conn)
        files = [f.model_dump() for f in msg.files]
        await self.io.direct(
            conn.room_id, AGENT, AgentFileUpload(id=msg.id, files=files, by=conn.user_id)
        )
        log.info(
            "files for the page's chooser",
            extra={
                "room": conn.room_id,
                "user_id": conn.user_id,
                "files": len(files),
                "bytes": sum(f.size for f in msg.files),
            },
        )

    async def file_chunk(self, conn: ClientConn, msg: w.FileChunk) -> None:
        size = b64_decoded_size(msg.b64)
        problem = chunk_problem(msg.offset, size, self.settings.ROOM_FILE_MAX_BYTES)
        if problem is not None:
            raise _refuse(Kind.invalid, "file_too_large", problem)
        if size > w.FILE_CHUNK_BYTES:
            raise _refuse(
                Kind.invalid, "invalid", f"A chunk holds at most {w.FILE_CHUNK_BYTES} bytes"
            )
        await self._require_holder_and_agent(conn)
        if not self._spend(conn.id, size):
            raise _refuse(
                Kind.rate_limited,
                "rate_limited",
                {"message": "Files are sent too fast", "retry_after": 1},
            )
        chunk = AgentFileChunk(
            id=msg.id, index=msg.index, offset=msg.offset, b64=msg.b64, by=conn.user_id
        )
        await self.io.direct(conn.room_id, AGENT, chunk)

    async def file_cancel(self, conn: ClientConn, msg: w.FileCancel) -> None:
        await self._require_holder_and_agent(conn)
        await self.io.direct(conn.room_id, AGENT, AgentFileCancel(id=msg.id, by=conn.user_id))

    # ---------------------------------------------------------------- agent channel

    async def _to_holder(self, room_id: str, holder_id: str, msg: Outbound) -> bool:
        """`msg` to `holder_id`'s sockets, if they still hold the remote."""
        if not holder_id or await self._holder(room_id) != holder_id:
            log.info(
                "agent report for a former holder dropped",
                extra={"room": room_id, "type": msg.TYPE, "user_id": holder_id or None},
            )
            return False
        await self.io.direct(room_id, Address.user(holder_id), msg)
        return True

    async def copied(self, agent: AgentConn, msg: wa.AgentClipboardCopied) -> None:
        """Text copied in the room's page, back to the holder who copied it (coalesced per agent
        connection: at most one per COPIED_INTERVAL_S, the latest winning)."""
        max_bytes = self.settings.ROOM_CLIPBOARD_MAX_BYTES
        size = max(msg.size, utf8_size(msg.text))
        text = msg.text if size <= max_bytes else ""

        async def relay(fields: dict[str, Any]) -> None:
            out = ClipboardCopiedOut(text=fields["text"], size=fields["size"], max_bytes=max_bytes)
            await self._to_holder(agent.room_id, fields["holder_id"], out)

        fields = {"text": text, "size": size, "holder_id": msg.holder_id}
        throttle = agent.throttles.of("clipboard.copied", COPIED_INTERVAL_S, dedupe=False)
        await throttle.offer(fields, relay)

    async def chooser(self, agent: AgentConn, msg: wa.AgentFileChooser) -> None:
        if not msg.id:
            return
        out = FileChooserOut(
            id=msg.id,
            multiple=msg.multiple,
            accept=msg.accept,
            max_bytes=self.settings.ROOM_FILE_MAX_BYTES,
        )
        if await self._to_holder(agent.room_id, msg.holder_id, out):
            log.info(
                "file chooser put to the holder",
                extra={"room": agent.room_id, "user_id": msg.holder_id, "multiple": msg.multiple},
            )

    async def file_status(self, agent: AgentConn, msg: wa.AgentFileStatus) -> None:
        """How an upload is doing, to the user who sent it (a former holder included: their
        upload failed because the remote changed hands)."""
        if not msg.id or not msg.to:
            return
        out = FileStatusOut(id=msg.id, state=msg.state, received=msg.received, detail=msg.detail)
        await self.io.direct(agent.room_id, Address.user(msg.to), out)

    async def download_refused(self, agent: AgentConn, msg: wa.AgentDownloadRefused) -> None:
        out = DownloadRefusedOut(filename=msg.filename, url=msg.url)
        await self._to_holder(agent.room_id, msg.holder_id, out)
        log.info("download refused", extra={"room": agent.room_id, "url": msg.url[:200]})
