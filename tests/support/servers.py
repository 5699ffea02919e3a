"""Real API server processes (`watchparty serve`) for tests that cross process boundaries."""

from __future__ import annotations

import functools
import http.server
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.smtp import free_port


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    agent_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def agent_ws_url(self) -> str:
        """The agent listener (AGENT_PORT), where room agents dial."""
        return f"ws://127.0.0.1:{self.agent_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy within {timeout} s:\n{server.log()}")


def stop(server: Server) -> None:
    stop_all([server])


def stop_all(servers: list[Server], timeout: float = 15) -> None:
    """SIGTERM to every server at once, then wait for them together (each drains its sockets
    for a few seconds); a server still up after `timeout` is killed."""
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    deadline = time.monotonic() + timeout
    for server in servers:
        try:
            server.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def run_server(
    env: dict[str, Any],
    *,
    log_dir: Path,
    migrate: bool = False,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Start `watchparty serve` with `env` (strings) on a free port and a free agent port (unless
    `env` names AGENT_PORT); stop it on exit. `host` "0.0.0.0" lets clients in network
    namespaces (tests/support/netns.py) reach it at the host's end of their link; `url` stays
    loopback."""
    port = port or free_port()
    agent_port = int(env.get("AGENT_PORT") or free_port())
    log_path = log_dir / f"server-{port}.log"
    args = [sys.executable, "-m", "controlplane.cli", "serve", "--host", host, "--port", str(port)]
    args += ["--agent-port", str(agent_port)]
    if not migrate:
        args.append("--no-migrate")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            args,
            env={**os.environ, **{k: str(v) for k, v in env.items()}},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(port=port, process=process, log_path=log_path, agent_port=agent_port)
    try:
        _wait_healthy(server, timeout=60)
        yield server
    finally:
        stop(server)


@contextmanager
def serve_in_thread(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """A threaded HTTP server on a free loopback port for the block's duration: yields the port."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def static_files(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on a free loopback port (pages for room browsers to show),
    with byte ranges: a browser seeks in a video only where the server answers them."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def send_head(self) -> Any:
            path = self.translate_path(self.path)
            ranges = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
            if ranges is None or not os.path.isfile(path):
                return super().send_head()
            body = Path(path).read_bytes()
            first, last = ranges.groups()
            if first:
                start, end = int(first), min(int(last or len(body) - 1), len(body) - 1)
            else:  # "bytes=-N": the last N bytes
                start, end = max(0, len(body) - int(last or 0)), len(body) - 1
            if start >= len(body) or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            return io.BytesIO(body[start : end + 1])

    with serve_in_thread(functools.partial(Quiet, directory=str(directory))) as port:
        yield f"http://127.0.0.1:{port}"


@dataclass
class CountingPage:
    """A local HTTP server answering every GET with one page, and the paths it was asked for."""

    port: int
    hits: list[str]


@contextmanager
def counting_page(body: bytes, headers: dict[str, str] | None = None) -> Iterator[CountingPage]:
    """Serve `body` (text/html, plus `headers`) on a free loopback port and record every request
    path: a stand-in for a host the room browser must not reach, or reaches only when allowed."""
    page = CountingPage(0, [])
    extra = dict(headers or {})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page.hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as port:
        page.port = port
        yield page
