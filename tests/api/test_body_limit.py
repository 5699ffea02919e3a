"""Issue 19 #4: every route refuses a body over MAX_REQUEST_BODY_BYTES (64 KiB) with 413 before
reading it, for anonymous clients too: a declared length at once, a chunked body as soon as it
passes the limit. Against a real `watchparty serve` on each backend, whose peak memory is read
from /proc while 30 MB are thrown at it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.backends import PG_URL, REDIS_URL, base_env, pg_redis_settings
from tests.support.servers import Server, run_server

PATH = "/api/auth/forgot-password"
BIG = 30 * 1024 * 1024
LIMIT = 65536


@pytest.fixture
async def server(backend: str, tmp_path: Path) -> AsyncIterator[Server]:
    if backend == "embedded":
        env = base_env(DATA_DIR=str(tmp_path / "data"))
    else:
        await pg_redis_settings()  # empties both
        env = base_env(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL)
    with run_server(env, log_dir=tmp_path, migrate=True) as srv:
        yield srv


def _kib(server: Server, field: str) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith(field + ":"))
    return int(line.split()[1])


def _reset_peak(server: Server) -> None:
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Reply:
    """Reads the server's reply on its own thread while the test keeps sending: a server that
    refuses early closes the connection, and what it said must be read before that."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.eof = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.data += chunk
        except OSError:
            pass
        else:
            self.eof = True

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)

    @property
    def status(self) -> int | None:
        if b"\r\n" not in self.data:
            return None
        return int(self.data.split(b" ", 2)[1])

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.data.split(b"\r\n\r\n", 1)[1]))


def _send_until_answered(sock: socket.socket, reply: Reply, chunks: list[bytes]) -> int:
    """Send `chunks` until the server answers or drops the connection; bytes sent."""
    sent = 0
    for chunk in chunks:
        if reply.status is not None:
            break
        try:
            sock.sendall(chunk)
        except OSError:  # the server closed the connection after its answer
            break
        sent += len(chunk)
    return sent


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head(PATH, f"Content-Length: {BIG}"))  # and not one byte of the body
        reply = Reply(sock)
        reply.wait(timeout=10)  # the server closes the connection after its answer
        assert reply.status == 413, reply.data[:200]
        assert reply.json()["code"] == "payload_too_large"
        assert reply.eof, "the connection is closed: the rest of the body is never read"


async def test_a_body_a_little_over_is_drained_so_its_client_reads_the_413(server: Server) -> None:
    """Clients send the whole body before reading: a connection closed on unread bytes would
    be reset under them, and the 413 lost."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for path in ("/api/auth/register", "/api/auth/login", "/api/rooms", "/api/nowhere"):
            resp = await http.post(path, content=b"x" * (LIMIT + 1))
            assert resp.status_code == 413, (path, resp.text)
            assert resp.json()["code"] == "payload_too_large"
            resp = await http.post(path, content=b"x" * (LIMIT + 900_000))
            assert resp.status_code == 413, (path, resp.text)
        assert (await http.get("/healthz")).status_code == 200  # the same connection, kept


async def test_thirty_megabytes_are_refused_without_growing_the_server(server: Server) -> None:
    payload = b'{"email": "a@example.com", "pad": "' + b"x" * BIG + b'"}'
    view = memoryview(payload)
    chunks = [view[i : i + 65536] for i in range(0, len(payload), 65536)]
    rss_before = _kib(server, "VmRSS")
    _reset_peak(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head(PATH, f"Content-Length: {len(payload)}"))
        reply = Reply(sock)
        started = time.monotonic()
        _send_until_answered(sock, reply, chunks)  # type: ignore[arg-type]
        reply.wait(timeout=10)
        assert reply.status == 413, reply.data[:200]
    assert time.monotonic() - started < 10
    grown_kib = _kib(server, "VmHWM") - rss_before
    assert grown_kib < 8 * 1024, f"the server's peak memory grew by {grown_kib} KiB"


async def test_a_chunked_body_is_cut_off_as_it_passes_the_limit(server: Server) -> None:
    piece = b"x" * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    first = b'{"email": "a@example.com", "pad": "'
    rss_before = _kib(server, "VmRSS")
    _reset_peak(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_head(PATH, "Transfer-Encoding: chunked"))
        sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        reply = Reply(sock)
        sent = _send_until_answered(sock, reply, [chunk] * (BIG // len(piece)))
        reply.wait(timeout=10)
        assert reply.status == 413, (sent, reply.data[:200])
        assert reply.json()["code"] == "payload_too_large"
    assert sent < BIG
    grown_kib = _kib(server, "VmHWM") - rss_before
    assert grown_kib < 8 * 1024, f"the server's peak memory grew by {grown_kib} KiB"


async def test_a_body_within_the_limit_is_served(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        small = {"email": "a@example.com", "pad": "x" * (LIMIT - 100)}
        assert (await http.post(PATH, json=small)).status_code == 202
