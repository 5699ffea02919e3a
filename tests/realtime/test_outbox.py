"""A socket's outbox against a peer that never reads (issue 11 #2): bounded, and over soon."""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocketState

from controlplane.realtime.connections import CLOSE_TOO_SLOW, Outbox, OutboxLimits


class StuckSocket:
    """A WebSocket whose peer's TCP window is shut: every send (and close) waits forever."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.close_attempts: list[int] = []

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.close_attempts.append(code)
        await asyncio.Event().wait()


async def test_queued_bytes_are_bounded_and_overflow_ends_the_socket():
    ws = StuckSocket()
    outbox = Outbox(ws, OutboxLimits(max_messages=4096, max_bytes=100_000, stall_s=1))  # type: ignore[arg-type]
    writer = outbox.start("w")
    chunk = "x" * 10_000
    for _ in range(50):  # 500 kB offered: far fewer than max_messages, far more than max_bytes
        outbox.put(chunk)
    assert outbox.queued_bytes <= 100_000
    assert outbox.closing and outbox.close_code == CLOSE_TOO_SLOW  # at once, not after 1 s
    await asyncio.wait_for(outbox.done.wait(), 5)
    assert writer.done() and outbox.queue.empty()
    assert ws.close_attempts == [CLOSE_TOO_SLOW]


async def test_a_send_without_progress_ends_the_socket_within_the_stall_time():
    ws = StuckSocket()
    outbox = Outbox(ws, OutboxLimits(stall_s=0.3))  # type: ignore[arg-type]
    outbox.start("w")
    outbox.put("hello")  # one small message, never taken by the peer
    t0 = asyncio.get_running_loop().time()
    await asyncio.wait_for(outbox.done.wait(), 5)
    # the send timed out (0.3 s), then the close frame had its 0.3 s too
    assert asyncio.get_running_loop().time() - t0 < 2
    assert outbox.close_code == CLOSE_TOO_SLOW and ws.close_attempts == [CLOSE_TOO_SLOW]
