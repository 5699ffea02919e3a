"""A Redis server of the test's own (a free loopback port, no persistence), which the test can cut
off (SIGSTOP: connections stay open and every command hangs, as behind a dead link) or kill."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.smtp import free_port


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_off(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Killed and started again, empty, on the same port: every connection a client had
        pooled is dead, though the client has not noticed yet."""
        self.kill()
        self.process = _start(self.port)


def _start(port: int) -> subprocess.Popen[bytes]:
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    args += ["--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    port = free_port()
    server = RedisServer(port=port, process=_start(port))
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.kill()
