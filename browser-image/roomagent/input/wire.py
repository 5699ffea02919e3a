"""The compact binary format of the ``pointer`` and ``input`` data channels (docs/protocol.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# viewer → agent
MOVE = 0x01
BUTTON_DOWN = 0x02
BUTTON_UP = 0x03
WHEEL = 0x04
KEY_DOWN = 0x05
KEY_UP = 0x06
TEXT = 0x07
RELEASE_ALL = 0x08
PING = 0x09
# agent → viewer
PONG = 0x0A
CURSOR_POS = 0x81
CURSOR_SHAPE = 0x82

MOD_BITS: dict[str, int] = {"shift": 1, "ctrl": 2, "alt": 4, "meta": 8}
NORM = 65535


class WireError(ValueError):
    pass


@dataclass(frozen=True)
class Move:
    x: float
    y: float


@dataclass(frozen=True)
class Button:
    button: int
    down: bool
    x: float
    y: float


@dataclass(frozen=True)
class Wheel:
    dx: float
    dy: float
    x: float
    y: float


@dataclass(frozen=True)
class Key:
    key: str
    code: str
    mods: frozenset[str]
    down: bool


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ReleaseAll:
    pass


@dataclass(frozen=True)
class Ping:
    payload: bytes


Message = Move | Button | Wheel | Key | Text | ReleaseAll | Ping


def mods_from_bits(bits: int) -> frozenset[str]:
    return frozenset(name for name, bit in MOD_BITS.items() if bits & bit)


def mods_to_bits(mods: set[str] | frozenset[str] | list[str]) -> int:
    return sum(MOD_BITS[m] for m in set(mods) if m in MOD_BITS)


def decode(data: bytes) -> Message:
    if not data:
        raise WireError("empty message")
    op = data[0]
    try:
        if op == MOVE:
            x, y = struct.unpack_from("<HH", data, 1)
            return Move(x / NORM, y / NORM)
        if op in (BUTTON_DOWN, BUTTON_UP):
            b, x, y = struct.unpack_from("<BHH", data, 1)
            if not 1 <= b <= 9:
                raise WireError("bad button")
            return Button(b, op == BUTTON_DOWN, x / NORM, y / NORM)
        if op == WHEEL:
            dx, dy, x, y = struct.unpack_from("<hhHH", data, 1)
            return Wheel(dx, dy, x / NORM, y / NORM)
        if op in (KEY_DOWN, KEY_UP):
            bits, klen = struct.unpack_from("<BB", data, 1)
            key = data[3 : 3 + klen].decode()
            if len(data) < 3 + klen or not key:
                raise WireError("truncated key")
            code = data[3 + klen :].decode("ascii")
            return Key(key, code, mods_from_bits(bits), op == KEY_DOWN)
        if op == TEXT:
            text = data[1:].decode()
            if len(text) > 1000:
                raise WireError("text too long")
            return Text(text)
        if op == RELEASE_ALL:
            return ReleaseAll()
        if op == PING:
            return Ping(bytes(data[1:65]))
    except (struct.error, UnicodeDecodeError) as e:
        raise WireError(str(e)) from e
    raise WireError(f"unknown opcode {op}")


# encoders (used by the agent for its messages, and by tests/bench as a viewer) ---------------
def _n(v: float) -> int:
    return round(min(max(v, 0.0), 1.0) * NORM)


def move(x: float, y: float) -> bytes:
    return struct.pack("<BHH", MOVE, _n(x), _n(y))


def button(b: int, down: bool, x: float, y: float) -> bytes:
    return struct.pack("<BBHH", BUTTON_DOWN if down else BUTTON_UP, b, _n(x), _n(y))


def wheel(dx: int, dy: int, x: float, y: float) -> bytes:
    clamp = lambda v: max(-32767, min(32767, int(v)))  # noqa: E731
    return struct.pack("<BhhHH", WHEEL, clamp(dx), clamp(dy), _n(x), _n(y))


def key(key: str, code: str, mods: set[str] | frozenset[str] | list[str], down: bool) -> bytes:
    k = key.encode()
    return (
        struct.pack("<BBB", KEY_DOWN if down else KEY_UP, mods_to_bits(mods), len(k))
        + k
        + code.encode("ascii")
    )


def text(t: str) -> bytes:
    return bytes([TEXT]) + t.encode()


def release_all() -> bytes:
    return bytes([RELEASE_ALL])


def ping(payload: bytes) -> bytes:
    return bytes([PING]) + payload


def pong(payload: bytes) -> bytes:
    return bytes([PONG]) + payload


def cursor_pos(x: float, y: float) -> bytes:
    return struct.pack("<BHH", CURSOR_POS, _n(x), _n(y))


def cursor_shape(width: int, height: int, hot_x: int, hot_y: int, rgba: bytes) -> bytes:
    return struct.pack("<BHHHH", CURSOR_SHAPE, width, height, hot_x, hot_y) + rgba
