"""Clipboard and files (issue 22), the control plane's rules (pure): how much text one paste may
carry, how much the files handed to one file chooser may weigh, and how many bytes a `file.chunk`
holds. Each check answers None when the input passes, else the sentence the holder is shown.

Who may do it (the remote's holder, and only while they hold it) is checked by the caller,
`realtime/clipfiles.py`; the agent checks both again (docs/protocol.md, "Clipboard and files").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FileLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8 (lone surrogates count as the replacement they become)."""
    return len(text.encode("utf-8", "replace"))


def words_for_bytes(n: int) -> str:
    """A size as people read it: "900 bytes", "8 KB", "10 MB"."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.0f} MB" if n % (1024 * 1024) == 0 else f"{n / 1048576:.1f} MB"


def paste_problem(text: str, max_bytes: int) -> str | None:
    """Why `text` cannot be pasted into the room's page, or None."""
    size = utf8_size(text)
    if size <= max_bytes:
        return None
    limit = words_for_bytes(max_bytes)
    if max_bytes >= 1024:
        limit += f" ({max_bytes} bytes)"
    return f"Text to paste is limited to {limit}; this is {size} bytes"


def upload_problem(
    files: Sequence[FileLike], *, multiple: bool | None, max_bytes: int
) -> str | None:
    """Why these files cannot be handed to the chooser, or None. `multiple`: whether the chooser
    takes several files (None: not known here, the agent checks it)."""
    if multiple is False and len(files) > 1:
        return "This file field takes one file"
    total = sum(f.size for f in files)
    if total > max_bytes:
        return (
            f"Files for the room's page are limited to {words_for_bytes(max_bytes)} "
            f"together; these weigh {words_for_bytes(total)}"
        )
    return None


def b64_decoded_size(b64: str) -> int:
    """Bytes a (valid, padded) base64 text decodes to."""
    return len(b64) // 4 * 3 - (len(b64) - len(b64.rstrip("=")))


def chunk_problem(offset: int, size: int, max_bytes: int) -> str | None:
    """Why a chunk of `size` bytes at `offset` cannot belong to any allowed upload, or None."""
    if offset + size > max_bytes:
        return f"Files for the room's page are limited to {words_for_bytes(max_bytes)} together"
    return None
