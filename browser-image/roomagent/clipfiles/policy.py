"""Clipboard and files, the agent's rules (pure, unit-tested without a browser).

- What comes back from the room's clipboard: text only (UTF-8, control characters other than
  tab and newline dropped, CRLF made LF), refused whole past the cap, never cut.
- When it comes back: only while someone holds the remote and only soon after the holder's own
  input (`COPY_AFTER_INPUT_S`): a copy is the answer to a key press or a click (Ctrl+C, the page's
  "Copy" button). A page writing the clipboard on its own, minutes later, must not reach the
  holder's clipboard.
- Where a file the holder hands a chooser is written: a name of its own, never a path.
- What an upload may be: as many files as the chooser takes, their sizes within the cap, each
  chunk exactly where the last one ended.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# A copy counts as the holder's within this long of their last click, key or text.
COPY_AFTER_INPUT_S = 5.0
NAME_MAX_CHARS = 120
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(raw: bytes) -> str:
    """The clipboard's bytes as the text the holder gets."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def copy_goes_back(*, holder: str | None, now: float, last_input_at: float | None) -> bool:
    """Whether a copy the room's page made now goes back to the holder."""
    if holder is None or last_input_at is None:
        return False
    return 0 <= now - last_input_at <= COPY_AFTER_INPUT_S


def safe_name(name: str) -> str:
    """A file name the page sees (the last part of whatever the holder's browser said), safe to
    write: no directories, no control or bidi characters, no leading dots, not empty."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(
        c
        for c in base
        if unicodedata.category(c)[0] != "C" and c not in "\u202a\u202b\u202c\u202d\u202e"
    )
    base = base.strip().lstrip(".").strip()
    if len(base) > NAME_MAX_CHARS:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot else ""
        base = (stem if dot else base)[: NAME_MAX_CHARS - len(ext) - 1] + (f".{ext}" if ext else "")
    return base or "file"


@dataclass
class Upload:
    """One upload's progress: the files it declared and the bytes received of each, in order."""

    sizes: list[int]
    received: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.received = [0] * len(self.sizes)

    @property
    def total(self) -> int:
        return sum(self.sizes)

    @property
    def done_bytes(self) -> int:
        return sum(self.received)

    @property
    def complete(self) -> bool:
        return self.received == self.sizes

    def accept(self, index: int, offset: int, size: int) -> str | None:
        """Record a chunk; why it does not fit, or None."""
        if not 0 <= index < len(self.sizes):
            return "A chunk for a file that was not announced"
        # Files go one after the other: every earlier file must be whole.
        if any(self.received[i] != self.sizes[i] for i in range(index)):
            return "Chunks arrived out of order"
        if offset != self.received[index]:
            return "Chunks arrived out of order"
        if offset + size > self.sizes[index]:
            return "A file is larger than announced"
        self.received[index] += size
        return None


def upload_problem(sizes: list[int], *, multiple: bool, max_bytes: int) -> str | None:
    """Why these files cannot go to the chooser, or None."""
    if not sizes:
        return "No file"
    if len(sizes) > 1 and not multiple:
        return "This file field takes one file"
    if any(s < 0 for s in sizes):
        return "A file has a negative size"
    if sum(sizes) > max_bytes:
        return f"Files for the room's page are limited to {max_bytes} bytes together"
    return None
