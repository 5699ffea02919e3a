"""The encoder ladder: the qualities one capture is encoded at (pure, no I/O).

The top rung is always the room's own stream (WP_WIDTH x WP_HEIGHT at WP_FPS and
WP_BITRATE_KBPS). WP_LADDER lists the rungs below it, best first, as ``HEIGHTp[@FPS]:KBPS``
separated by commas (``480p:1000,360p:450,360p@15:250``, the default); the width follows the
room's aspect ratio (even, as yuv420p needs). Rungs not strictly below the one before (lower
height, or the same height at a lower frame rate) are dropped. An empty WP_LADDER is one rung:
the behaviour before the ladder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_LADDER = "480p:1000,360p:450,360p@15:250"
_RUNG = re.compile(r"^\s*(\d{2,4})p(?:@(\d{1,2}))?\s*:\s*(\d{2,6})\s*$")


class LadderError(ValueError):
    pass


@dataclass(frozen=True)
class Rung:
    width: int
    height: int
    fps: int
    kbps: int


def rung_names(ladder: list[Rung]) -> list[str]:
    """Unique names: the height, with the frame rate where two rungs share a height."""
    heights = [r.height for r in ladder]
    return [
        f"{r.height}p{r.fps}"
        if heights.count(r.height) > 1 and i > heights.index(r.height)
        else f"{r.height}p"
        for i, r in enumerate(ladder)
    ]


def scaled_width(width: int, height: int, to_height: int) -> int:
    return max(2, round(width * to_height / height / 2) * 2)


def parse_ladder(spec: str, width: int, height: int, fps: int, kbps: int) -> list[Rung]:
    """The ladder for a room streaming ``width`` x ``height`` at ``fps`` and ``kbps``."""
    ladder = [Rung(width, height, fps, kbps)]
    for part in (p for p in spec.split(",") if p.strip()):
        m = _RUNG.match(part)
        if m is None:
            raise LadderError(f"bad ladder rung {part!r} (want e.g. 480p:1000 or 360p@15:250)")
        h, f, k = int(m.group(1)), int(m.group(2) or fps), int(m.group(3))
        h -= h % 2
        f = max(1, min(f, fps))
        last = ladder[-1]
        if h > last.height or (h == last.height and f >= last.fps) or h < 64:
            continue
        ladder.append(Rung(scaled_width(width, height, h), h, f, min(k, last.kbps)))
    return ladder


def cap_index(ladder: list[Rung], max_height: int) -> int:
    """The best rung a viewer's own cap allows (0 = Auto, no cap): the highest rung whose
    height is at most ``max_height``, else the last rung."""
    if max_height <= 0:
        return 0
    for i, rung in enumerate(ladder):
        if rung.height <= max_height:
            return i
    return len(ladder) - 1
