"""A test clip made at test time (VP8 in WebM: Debian's Chromium plays it), and what a viewer's
decoded frame says about where in the clip the room's page is.

Each second of the clip has its own background colour (`PALETTE`, repeating), and a white bar
crosses the top band once a second: a viewer tells a paused picture (the bar stops) from a
playing one, and a seek (the colour jumps to the target second's) from playing on.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from tests.support.frames import pixel

PALETTE: tuple[tuple[int, int, int], ...] = (
    (220, 30, 30),
    (30, 200, 30),
    (30, 30, 220),
    (220, 220, 30),
    (220, 30, 220),
    (30, 200, 220),
    (235, 120, 0),
    (128, 128, 128),
)
BAND = 0.25  # the bar's band: the top quarter of the picture
BAR = 0.05  # the bar's width, as a fraction of the picture's


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb  # BT.601, limited range (what the viewer's decoder reverses in frames.pixel)
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return round(y), round(u), round(v)


def make_clip(
    path: Path, seconds: float, fps: int = 30, width: int = 320, height: int = 180
) -> Path:
    """Write the clip (a keyframe every second, so seeks land fast) and return its path."""
    band = int(height * BAND) // 2 * 2
    bar_w = max(2, int(width * BAR))
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 400_000
        stream.codec_context.gop_size = fps
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(round(seconds * fps)):
            t = i / fps
            y, u, v = _yuv(PALETTE[int(t) % len(PALETTE)])
            x = int((t % 1) * (width - bar_w))
            frame = av.VideoFrame(width, height, "yuv420p")
            py, pu, pv = frame.planes
            bar_row = bytes([16] * x + [235] * bar_w + [16] * (width - x - bar_w))
            rows = [bar_row] * band + [bytes([y]) * width] * (height - band)
            py.update(b"".join(r.ljust(py.line_size, b"\0") for r in rows))
            cw, ch = width // 2, height // 2
            for plane, c in ((pu, u), (pv, v)):
                band_rows = [bytes([128]) * cw] * (band // 2)
                rest = [bytes([c]) * cw] * (ch - band // 2)
                plane.update(b"".join(r.ljust(plane.line_size, b"\0") for r in band_rows + rest))
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def colour_index(frame: av.VideoFrame, tolerance: int = 60) -> int | None:
    """Which palette colour the picture's lower half shows (None: none near enough)."""
    rgb = pixel(frame, frame.width // 2, int(frame.height * 0.7))
    best, dist = None, tolerance
    for i, want in enumerate(PALETTE):
        d = max(abs(a - b) for a, b in zip(rgb, want, strict=True))
        if d <= dist:
            best, dist = i, d
    return best


def bar_position(frame: av.VideoFrame, samples: int = 128) -> float:
    """Where the bar is across the top band (0..1 of the width): the brightest of `samples`
    points on one row of the band."""
    py = frame.planes[0]
    row = int(frame.height * BAND / 2) * py.line_size
    data = memoryview(py)
    best_x, best = 0, -1
    for k in range(samples):
        x = k * (frame.width - 1) // (samples - 1)
        luma = data[row + x]
        if luma > best:
            best_x, best = x, luma
    return best_x / frame.width
