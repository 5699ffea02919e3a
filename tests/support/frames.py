"""Reading decoded video frames: what colour a viewer actually sees."""

from __future__ import annotations

import av


def pixel(frame: av.VideoFrame, x: int, y: int) -> tuple[int, int, int]:
    """RGB of one pixel, read straight from the decoded planes (no whole-frame conversion).

    Converting a whole 720p frame to RGB for every decoded frame costs milliseconds on the
    viewer's event loop and would inflate the input-to-photon figures it measures.
    """
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        rgb = frame.reformat(format="rgb24")
        plane = rgb.planes[0]
        i = y * plane.line_size + x * 3
        data = memoryview(plane)
        return data[i], data[i + 1], data[i + 2]
    py, pu, pv = frame.planes
    luma = memoryview(py)[y * py.line_size + x]
    cb = memoryview(pu)[(y // 2) * pu.line_size + x // 2] - 128
    cr = memoryview(pv)[(y // 2) * pv.line_size + x // 2] - 128
    c = 1.164 * (luma - 16)  # BT.601, limited range (what the encoders produce)

    def clamp(v: float) -> int:
        return max(0, min(255, round(v)))

    return clamp(c + 1.596 * cr), clamp(c - 0.392 * cb - 0.813 * cr), clamp(c + 2.017 * cb)


def is_colour(rgb: tuple[int, int, int], want: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))
