"""The agent's clipboard and files rules (browser-image/roomagent/clipfiles/policy.py), without a
browser: the text a copy brings back, when a copy goes back at all, the names files are written
under, and what an upload may be, chunk by chunk."""

from __future__ import annotations

import pytest
from roomagent.clipfiles.policy import (
    COPY_AFTER_INPUT_S,
    Upload,
    clean_text,
    copy_goes_back,
    safe_name,
    upload_problem,
)


def test_clean_text_keeps_text_drops_controls():
    assert clean_text("a\r\nb\rc\td\x00e\x1bf 👋".encode()) == "a\nb\nc\tdef 👋"
    assert clean_text(b"\xff ok") == "\ufffd ok"


def test_a_copy_goes_back_only_to_a_holder_soon_after_their_input():
    assert copy_goes_back(holder="ana", now=100.0, last_input_at=99.0)
    assert copy_goes_back(holder="ana", now=100.0, last_input_at=100.0 - COPY_AFTER_INPUT_S)
    assert not copy_goes_back(
        holder="ana", now=100.0, last_input_at=100.0 - COPY_AFTER_INPUT_S - 0.1
    )
    assert not copy_goes_back(holder=None, now=100.0, last_input_at=99.9)
    assert not copy_goes_back(holder="ana", now=100.0, last_input_at=None)


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\cat.png", "cat.png"),
        ("..", "file"),
        (".bashrc", "bashrc"),
        ("a\u202eexe.txt", "aexe.txt"),
        ("tab\tname\n.txt", "tabname.txt"),
        ("", "file"),
        ("x" * 300 + ".subtitle", "x" * 111 + ".subtitle"),
    ],
)
def test_safe_name_is_a_plain_name(given: str, written: str):
    assert safe_name(given) == written
    assert "/" not in safe_name(given) and len(safe_name(given)) <= 120


def test_upload_problems():
    assert upload_problem([10], multiple=False, max_bytes=10) is None
    assert upload_problem([5, 5], multiple=True, max_bytes=10) is None
    assert upload_problem([1, 1], multiple=False, max_bytes=10) == "This file field takes one file"
    assert "limited" in (upload_problem([11], multiple=False, max_bytes=10) or "")
    assert upload_problem([], multiple=True, max_bytes=10) == "No file"


def test_chunks_arrive_in_order_within_the_announced_sizes():
    up = Upload([5, 3])
    assert up.accept(1, 0, 3) == "Chunks arrived out of order"  # file 0 is not whole yet
    assert up.accept(0, 0, 2) is None
    assert up.accept(0, 1, 2) == "Chunks arrived out of order"
    assert up.accept(0, 2, 4) == "A file is larger than announced"
    assert up.accept(0, 2, 3) is None and not up.complete
    assert up.accept(2, 0, 1) == "A chunk for a file that was not announced"
    assert up.accept(1, 0, 3) is None
    assert up.complete and up.done_bytes == up.total == 8
