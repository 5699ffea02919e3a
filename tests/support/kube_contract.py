"""A tiny HTTP server that plays a Kubernetes API server from a recorded contract.

A contract (tests/runtime/contracts/*.json) is an ordered list of exchanges:
`{"method", "path", "query" (exact, optional), "body" (a subset the request body must contain,
required for POST/PUT/PATCH), "content_type" (optional), "response": {"status", "body"}}`.
Requests must arrive in that order; anything else (wrong method, path, query or body, or a call
past the end) is recorded as a violation and answered with a 500 Status, and `verify()` fails the
test on violations or on exchanges never made.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def contains(actual: Any, expected: Any, where: str = "$") -> list[str]:
    """Where `actual` fails to contain `expected`: dicts by key (recursively), lists as
    'every expected item matches a distinct actual item' (any order), scalars by equality."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += contains(actual[key], value, f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r}"]
        unused = list(range(len(actual)))
        for i, item in enumerate(expected):
            match = next((j for j in unused if not contains(actual[j], item)), None)
            if match is None:
                return [f"{where}[{i}]: no item matches {item!r}"]
            unused.remove(match)
        return []
    return [] if actual == expected else [f"{where}: {actual!r} != {expected!r}"]


@dataclass
class Exchange:
    method: str
    path: str
    response: dict[str, Any]
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str | None = None


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str | None


def load_contract(path: Path) -> list[Exchange]:
    data = json.loads(path.read_text())
    return [Exchange(**exchange) for exchange in data["exchanges"]]


class KubeContractServer:
    def __init__(self, exchanges: list[Exchange]) -> None:
        self.exchanges = exchanges
        self.position = 0
        self.violations: list[str] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = server.answer(
                    self.command, self.path, raw, self.headers.get("Content-Type")
                )
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> KubeContractServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(
        self, method: str, target: str, raw: bytes, content_type: str | None
    ) -> tuple[int, Any]:
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body = json.loads(raw) if raw else None
        with self._lock:
            self.received.append(Received(method, url.path, query, body, content_type))
            if self.position >= len(self.exchanges):
                return self._violation(f"unexpected call {method} {target}: contract exhausted")
            want = self.exchanges[self.position]
            problems: list[str] = []
            if (method, url.path) != (want.method, want.path):
                problems.append(f"expected {want.method} {want.path}")
            if query != want.query:
                problems.append(f"query {query} != {want.query}")
            if method in ("POST", "PUT", "PATCH"):
                if want.body is None:
                    problems.append("contract has no body to check")
                else:
                    problems += contains(body, want.body)
            if want.content_type and (content_type or "").split(";")[0] != want.content_type:
                problems.append(f"content type {content_type} != {want.content_type}")
            if problems:
                return self._violation(
                    f"call #{self.position} {method} {target}: " + "; ".join(problems)
                )
            self.position += 1
            return int(want.response["status"]), want.response["body"]

    def _violation(self, message: str) -> tuple[int, Any]:
        self.violations.append(message)
        return 500, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"contract violation: {message}",
            "reason": "InternalError",
            "code": 500,
        }

    def verify(self) -> None:
        assert not self.violations, "contract violations:\n" + "\n".join(self.violations)
        left = self.exchanges[self.position :]
        assert not left, "calls never made: " + ", ".join(f"{e.method} {e.path}" for e in left)
