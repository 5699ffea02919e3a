"""bench/quality.py's frame numbers: the bench matches received frames to source frames by them,
so a number must survive the room's encoder (fastest preset, default bitrate), and a broken one
must read as unreadable rather than as another number. (At a tenth of the default bitrate the
bottom row lagged a frame behind the top one: the bench counts that as torn.)"""

from __future__ import annotations

from fractions import Fraction

import av
from roomagent.config import AgentSettings
from roomagent.media.video import VIDEO_TIME_BASE, make_encoder

from bench.quality import FPS, STRIP_ROWS, H, W, draw_number, read_number


def _grey(level: int) -> av.VideoFrame:
    frame = av.VideoFrame(W, H, "yuv420p")
    for plane, value in zip(frame.planes, (level, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def test_numbers_survive_the_room_encoder() -> None:
    settings = AgentSettings(width=W, height=H, fps=FPS, quality="latency")  # default bitrate
    encoder = make_encoder(settings)
    decoder = av.CodecContext.create("h264", "r")
    numbers = [0, 1, 2, 1365, 2730, 4095, 7]  # all-zero, all-one and alternating bit patterns
    read: list[tuple[int | None, int | None]] = []
    for i, n in enumerate(numbers):
        frame = _grey(60 + 20 * i)
        draw_number(frame, n)
        frame.pts, frame.time_base = i * 90000 // FPS, VIDEO_TIME_BASE
        for packet in encoder.encode(frame):
            for out in decoder.decode(packet):
                read.append(tuple(read_number(out, row) for row in STRIP_ROWS))  # type: ignore[arg-type]
    for packet in encoder.encode(None):
        for out in decoder.decode(packet):
            read.append(tuple(read_number(out, row) for row in STRIP_ROWS))  # type: ignore[arg-type]
    assert read == [(n, n) for n in numbers]


def test_a_frame_without_a_number_is_unreadable() -> None:
    for level in (16, 128, 235):
        frame = _grey(level)
        frame.time_base = Fraction(1, FPS)
        assert read_number(frame, STRIP_ROWS[0]) is None
