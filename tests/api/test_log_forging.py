"""Issue 19 #8: no logged value can forge a log line or reach a terminal as an escape sequence.

A real `watchparty serve` writes its log to a file; the request path is decoded by the server
(`%0A` is a line feed by the time it is logged)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from controlplane.observability import escape_controls
from tests.support.backends import base_env
from tests.support.servers import Server, run_server

FORGED = "/x%0Afake%20line%1B[31m%0D%7F%C2%85"
DECODED = "/x\nfake line\x1b[31m\r\x7f\x85"


def _raw_get(server: Server, target: str) -> int:
    """GET `target` exactly as written (clients would re-encode it), return the status."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


def _record_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "fake" in line]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_decoded_path_with_control_characters_is_one_escaped_log_line(
    tmp_path: Path, as_json: bool
) -> None:
    env = base_env(DATA_DIR=str(tmp_path / "data"), LOG_JSON=str(as_json).lower())
    with run_server(env, log_dir=tmp_path, migrate=True) as server:
        # the web app's page for any path (200) when it is built, else 503; 404 for the API
        assert _raw_get(server, FORGED) in (200, 404, 503)
    log = server.log()  # read once the server stopped: every record is written
    lines = _record_lines(log)
    assert len(lines) == 1, lines  # "fake line" did not start a line of its own
    line = lines[0]
    for raw in ("\x1b", "\r", "\x7f", "\x85"):
        assert raw not in line, repr(line)
    if as_json:
        record = json.loads(line)
        assert record["path"] == escape_controls(DECODED)
        assert record["path"] == "/x\\x0afake line\\x1b[31m\\x0d\\x7f\\x85"
    else:
        assert "path=/x\\x0afake line\\x1b[31m\\x0d\\x7f\\x85 " in line, line
        assert line.split(" ", 1)[0].endswith("Z")  # it is a record of its own, with its time


def test_escape_controls_covers_c0_del_c1_and_line_separators() -> None:
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]:
        assert escape_controls(f"a{chr(code)}b") == f"a\\x{code:02x}b"
    assert escape_controls("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert escape_controls("plain text, é, 👋 and \\ stay") == "plain text, é, 👋 and \\ stay"
