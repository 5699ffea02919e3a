"""The WebSocket protocol uvicorn serves with: its own default (`ws="auto"` picks the sans-I/O
websockets implementation), except that a connection whose peer stopped reading is reset once
the app is done with it.

uvicorn only ever closes a transport gracefully, and asyncio keeps a closing transport (its file
descriptor, its write buffer, and the kernel's send buffer behind it, autotuned up to megabytes)
until the buffer drains: never, for a peer that reads nothing and keeps its TCP window shut. The
hub has already given such a socket up (1013, `realtime/connections.py`) and cleaned up after it;
without this the connection itself, and what it pinned, outlived that clean-up for as long as
the peer cared to keep it open. Tied to uvicorn's internals: its version is pinned.
"""

from __future__ import annotations

import contextlib
import socket
import struct

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class ResettingWebSocketProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        await super().run_asgi()  # ends by closing the transport, gracefully
        if self.transport.get_write_buffer_size():
            # Give a slow peer uvicorn's own close-handshake time to take the rest.
            self.loop.call_later(self.close_timeout, self._reset_if_stuck)

    def _reset_if_stuck(self) -> None:
        """Still holding unsent bytes: drop the connection with a reset, which frees the kernel's
        buffers at once (a plain close would leave them to drain, or time out, as an orphan)."""
        transport = self.transport
        if not transport.get_write_buffer_size():
            return  # drained and closed meanwhile
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
