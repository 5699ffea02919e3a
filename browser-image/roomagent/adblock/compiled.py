"""The compiled filter lists kept as JSON, so that an agent start reads them instead of parsing
them again: parsing EasyList and EasyPrivacy (3.4 MB) is ~0.4 s of CPU that holds the GIL while
the room starts (the agent's loop and capture thread wait behind it); reading the JSON is ~25 ms.

A compiled file names the digest of what it was compiled from: the lists' bytes and the
compiler's own source (filters.py), so a new list version or a changed parser is compiled
again, never served stale. Where it is looked for, in order:
- `<lists>/compiled.json`, written when the browser image is built
  (`python -m roomagent.adblock.compiled <lists>`), read-only at runtime;
- `<cache>/adblock-<digest>.json` (`WP_ADBLOCK_CACHE`, default `~/.cache/watchparty`), which
  the agent writes after compiling (local rooms: the second room's agent reads it).
A file that is missing, unreadable, corrupt or of other lists is passed over: the lists are
compiled as before. Writing is best effort (atomic rename; a read-only cache costs only the
parse)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import filters
from .filters import Filters, list_files, load_lists

IMAGE_FILE = "compiled.json"
FORMAT = 1


def digest(files: list[Path]) -> str:
    """What a compiled file must have been compiled from: the lists' names and bytes, and the
    compiler's source."""
    h = hashlib.sha256(f"format {FORMAT}\n".encode())
    h.update(Path(filters.__file__).read_bytes())
    for path in files:
        data = path.read_bytes()
        h.update(f"\n{path.name} {len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


def to_json(f: Filters, of: str) -> dict[str, Any]:
    return {
        "digest": of,
        "hosts": sorted(f.hosts),
        "allowed_hosts": sorted(f.allowed_hosts),
        "selectors": list(f.selectors),
        "selector_exceptions": {d: sorted(s) for d, s in sorted(f.selector_exceptions.items())},
        "no_cosmetic": sorted(f.no_cosmetic),
    }


def from_json(data: Any, of: str) -> Filters | None:
    """The Filters of a compiled file, or None if it is not one of the lists digested `of`."""
    if not isinstance(data, dict) or data.get("digest") != of:
        return None
    try:
        return Filters(
            hosts=frozenset(map(str, data["hosts"])),
            allowed_hosts=frozenset(map(str, data["allowed_hosts"])),
            selectors=tuple(map(str, data["selectors"])),
            selector_exceptions={
                str(d): frozenset(map(str, s)) for d, s in data["selector_exceptions"].items()
            },
            no_cosmetic=frozenset(map(str, data["no_cosmetic"])),
        )
    except (KeyError, TypeError, AttributeError):
        return None


def _read(path: Path, of: str) -> Filters | None:
    try:
        with path.open(encoding="utf-8") as fh:
            return from_json(json.load(fh), of)
    except (OSError, ValueError):
        return None


def _write(path: Path, data: dict[str, Any]) -> bool:
    """Atomically, or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".adblock-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


def load(directory: Path, cache: str | Path = "") -> tuple[Filters, str]:
    """The lists under `directory`, compiled: from a compiled file of these very lists if there
    is one, else parsed (and kept in the directory `cache`, `~` expanded; "": kept nowhere).
    Also says where they came from: "image", "cache" or "compiled". FileNotFoundError when
    there are no lists."""
    files = list_files(directory) if directory.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no filter lists under {directory}")
    of = digest(files)
    if (found := _read(directory / IMAGE_FILE, of)) is not None:
        return found, "image"
    cached = Path(cache).expanduser() / f"adblock-{of[:32]}.json" if cache else None
    if cached is not None and (found := _read(cached, of)) is not None:
        return found, "cache"
    compiled = load_lists(directory)
    if cached is not None:
        _write(cached, to_json(compiled, of))
    return compiled, "compiled"


def main(argv: list[str]) -> int:
    """`python -m roomagent.adblock.compiled DIR`: compile DIR's lists into DIR/compiled.json
    (the browser image's build)."""
    if len(argv) != 1:
        print("usage: python -m roomagent.adblock.compiled LISTS_DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    files = list_files(directory)
    if not files:
        print(f"no filter lists under {directory}", file=sys.stderr)
        return 1
    of = digest(files)
    compiled = load_lists(directory)
    if not _write(directory / IMAGE_FILE, to_json(compiled, of)):
        print(f"could not write {directory / IMAGE_FILE}", file=sys.stderr)
        return 1
    print(f"compiled {directory / IMAGE_FILE}: {compiled.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
