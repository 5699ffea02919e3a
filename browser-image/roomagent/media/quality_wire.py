"""The data-channel messages of per-viewer quality (docs/protocol.md, "Data channels"), on the
``input`` channel, little-endian after the 1-byte opcode. Pure: bytes in, values out.

- ``0x0B`` quality cap, viewer → agent: ``u16 max_height`` (0 = Auto; else the viewer's rung is
  at most the highest rung whose height is at most this). Anyone may send it; it affects only
  the sender.
- ``0x0C`` receiver stats, viewer → agent, about once a second: the video inbound-rtp's
  cumulative ``u32 bytes_received, packets_received, packets_lost, frames_decoded,
  frames_dropped, freeze_count, total_freezes_duration_ms`` and ``u16 jitter_buffer_delay_ms``.
- ``0x83`` quality status, agent → viewer: ``u16 width, u16 height, u8 fps, u8 flags, u32
  estimate_kbps, u16 max_height_cap``; flags bit 0: the link keeps the viewer below the rung it
  would otherwise get, bit 1: its own cap does.
"""

from __future__ import annotations

import struct

from .estimate import ViewerStats

QUALITY_CAP = 0x0B
RECEIVER_STATS = 0x0C
QUALITY_STATUS = 0x83
OPCODES = frozenset({QUALITY_CAP, RECEIVER_STATS})

_CAP = struct.Struct("<BH")
_STATS = struct.Struct("<B7IH")
_STATUS = struct.Struct("<BHHBBIH")


def decode_cap(data: bytes) -> int | None:
    """The cap's max_height, or None for a malformed message."""
    if len(data) != _CAP.size or data[0] != QUALITY_CAP:
        return None
    return int(_CAP.unpack(data)[1])


def decode_stats(data: bytes) -> ViewerStats | None:
    """The viewer's counters, or None for a malformed message."""
    if len(data) != _STATS.size or data[0] != RECEIVER_STATS:
        return None
    return ViewerStats(*_STATS.unpack(data)[1:])


def encode_cap(max_height: int) -> bytes:
    return _CAP.pack(QUALITY_CAP, max_height)


def encode_stats(stats: ViewerStats) -> bytes:
    return _STATS.pack(
        RECEIVER_STATS,
        stats.bytes_received,
        stats.packets_received,
        stats.packets_lost,
        stats.frames_decoded,
        stats.frames_dropped,
        stats.freeze_count,
        stats.total_freezes_duration_ms,
        stats.jitter_buffer_delay_ms,
    )


def encode_status(
    width: int, height: int, fps: int, flags: int, estimate_kbps: float, max_height: int
) -> bytes:
    return _STATUS.pack(
        QUALITY_STATUS,
        width,
        height,
        min(255, fps),
        flags,
        max(0, min(0xFFFFFFFF, round(estimate_kbps))),
        min(0xFFFF, max_height),
    )


def decode_status(data: bytes) -> tuple[int, int, int, int, int, int]:
    """(width, height, fps, flags, estimate_kbps, max_height_cap): what a viewer reads."""
    _, *fields = _STATUS.unpack(data)
    w, h, fps, flags, kbps, cap = fields
    return w, h, fps, flags, kbps, cap
