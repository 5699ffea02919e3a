"""The control plane's clipboard and files rules (controlplane/rooms/clipfiles.py, pure): how
much one paste, one chooser's files and one chunk may carry, in the words the holder sees."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from watchparty_wire.room import CLIPBOARD_HARD_MAX_BYTES, FILE_CHUNK_B64_CHARS, FILE_CHUNK_BYTES

from controlplane.rooms.clipfiles import (
    b64_decoded_size,
    chunk_problem,
    paste_problem,
    upload_problem,
    utf8_size,
    words_for_bytes,
)
from controlplane.settings import Settings


@dataclass
class F:
    name: str
    size: int


def test_paste_is_counted_in_utf8_bytes():
    assert utf8_size("👋é") == 6
    assert paste_problem("é" * 50, 100) is None
    problem = paste_problem("é" * 51, 100)
    assert problem == "Text to paste is limited to 100 bytes; this is 102 bytes"
    assert "8 KB (8192 bytes); this is 8193 bytes" in (paste_problem("x" * 8193, 8192) or "")


def test_files_together_within_the_cap():
    assert upload_problem([F("a", 5), F("b", 5)], multiple=None, max_bytes=10) is None
    assert upload_problem([F("a", 5), F("b", 5)], multiple=False, max_bytes=10) == (
        "This file field takes one file"
    )
    assert upload_problem([F("a", 11)], multiple=True, max_bytes=10) == (
        "Files for the room's page are limited to 10 bytes together; these weigh 11 bytes"
    )
    assert words_for_bytes(10 * 1024 * 1024) == "10 MB"
    assert words_for_bytes(8192) == "8 KB"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 40_959, FILE_CHUNK_BYTES])
def test_b64_decoded_size(n: int):
    assert b64_decoded_size(base64.b64encode(b"x" * n).decode()) == n


def test_chunk_within_the_cap_and_a_frame():
    assert chunk_problem(0, 10, 10) is None
    assert chunk_problem(1, 10, 10) is not None
    # a full chunk's base64, in its envelope, fits the room socket's 64 KiB frame
    assert FILE_CHUNK_B64_CHARS + 200 < 65536


def test_the_clipboard_setting_cannot_pass_what_a_frame_carries():
    assert Settings(ROOM_CLIPBOARD_MAX_BYTES=CLIPBOARD_HARD_MAX_BYTES).ROOM_CLIPBOARD_MAX_BYTES
    with pytest.raises(ValueError, match="16384"):
        Settings(ROOM_CLIPBOARD_MAX_BYTES=CLIPBOARD_HARD_MAX_BYTES + 1)
