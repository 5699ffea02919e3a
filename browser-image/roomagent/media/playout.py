"""When the viewers' browsers may show a video frame the moment it is decoded (pure policy).

A WebRTC receiver holds each video frame until a render time of its own choosing: its jitter
estimate, its decode-time estimate, and whatever lip sync asks for. On a page that answers a click
with one changed picture and then repeats it, that estimate wanders, and a Chromium viewer
measured the click's frame reaching its screen 60-110 ms after the click although it had arrived
12 ms after it (docs/performance.md, "Playout delay"). The sender can lift the hold: the RTP
playout-delay header extension with minimum = maximum = 0 makes Chromium render every frame as
soon as it is decoded. The price is lip sync: video can then not wait for sound, which takes
~90 ms longer from capture to speaker (Opus framing, the audio jitter buffer, the output device),
so a film's sound would trail its picture by as much.

Hence the policy ("auto"): sound is what lip sync is for. While the room's browser is silent
(nothing to line up), frames go out marked "show at once"; the moment it makes a sound they go
out marked "the receiver's own timing" (`SYNCED`: minimum 10 ms, maximum the receiver's default
ceiling), and stay so until `hold_s` of silence, so the gaps of a film's soundtrack or a
beep once a second do not flip the mode back and forth (each flip costs the receiver's lip sync a
few seconds to settle again). "immediate" and "synced" pin one behaviour. A viewer whose browser
does not offer the extension gets none, in every mode: its browser's default timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlayoutMode = Literal["auto", "synced", "immediate"]

# A sample beyond this (16-bit PCM, about -60 dBFS) is sound: below it is digital silence,
# dither or a muted tab's noise floor, nothing a viewer could lip-sync to.
SOUND_THRESHOLD = 32
# "The receiver's own timing": at most WebRTC's default ceiling (10 s), and at least one unit
# (10 ms), not 0: Chromium takes minimum 0 with a maximum above 0 as a low-latency hint that
# changes how it paces frames to the screen, and lip sync measured with it spread twice as wide
# (p05 -52 / p95 +83 ms against -23 / +49 with 10 ms; docs/performance.md, "Playout delay").
# 10 ms is below anything the receiver's own delay estimate (render delay alone is 10 ms) or
# its lip sync asks for, so it changes nothing else.
SYNCED_MIN_MS = 10
SYNCED_MAX_MS = 10_000


@dataclass(frozen=True)
class PlayoutLimits:
    """The extension's values: the receiver holds a frame at least `min_ms`, at most `max_ms`."""

    min_ms: int
    max_ms: int


IMMEDIATE = PlayoutLimits(0, 0)
SYNCED = PlayoutLimits(SYNCED_MIN_MS, SYNCED_MAX_MS)


def has_sound(pcm: bytes, threshold: int = SOUND_THRESHOLD) -> bool:
    """Whether 16-bit PCM in the machine's byte order (what parec gives us as s16le on the
    little-endian machines we run on) holds a sample louder than `threshold`; a trailing odd
    byte is ignored."""
    if len(pcm) < 2:
        return False
    samples = memoryview(pcm[: len(pcm) // 2 * 2]).cast("h")
    return max(samples) > threshold or min(samples) < -threshold


class PlayoutPolicy:
    """Which limits the video carries now. Called from the event loop only (the audio pipeline
    reports sound, every video packet asks), so no locking."""

    def __init__(self, mode: PlayoutMode, hold_s: float) -> None:
        self.mode = mode
        self.hold_s = hold_s
        self.last_sound: float | None = None
        self.switches = 0  # immediate <-> synced changes, for the stats
        self._last: PlayoutLimits | None = None

    def heard(self, at: float) -> None:
        """The room's browser made a sound at `at` (monotonic seconds)."""
        self.last_sound = at if self.last_sound is None else max(self.last_sound, at)

    def limits(self, now: float) -> PlayoutLimits:
        if self.mode == "immediate":
            chosen = IMMEDIATE
        elif self.mode == "synced":
            chosen = SYNCED
        elif self.last_sound is not None and now - self.last_sound <= self.hold_s:
            chosen = SYNCED
        else:
            chosen = IMMEDIATE
        if self._last is not None and chosen != self._last:
            self.switches += 1
        self._last = chosen
        return chosen
