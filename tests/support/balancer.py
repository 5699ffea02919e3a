"""A TCP load balancer on a free loopback port, as a Kubernetes Service is in front of API pods:
each new connection goes to the next backend that accepts it (a stopped one refuses and the
next is tried), bytes are piped both ways until either side closes. The test changes `backends`
as it stops and starts processes. Runs on the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Balancer:
    # Ports on 127.0.0.1.
    backends: list[int] = field(default_factory=list)
    port: int = 0
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        ports = list(self.backends)
        start = next(self._turn)
        for i in range(len(ports)):
            with contextlib.suppress(OSError):
                return await asyncio.open_connection("127.0.0.1", ports[(start + i) % len(ports)])
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for w in (writer, up_writer):
                w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@asynccontextmanager
async def balancer(backends: list[int]) -> AsyncIterator[Balancer]:
    lb = Balancer(backends=backends)
    server = await asyncio.start_server(lb._serve, "127.0.0.1", 0)
    lb.port = server.sockets[0].getsockname()[1]
    try:
        yield lb
    finally:
        server.close()
        for task in list(lb._pipes):
            task.cancel()
