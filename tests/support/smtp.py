"""A real SMTP server on loopback that keeps what it receives."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"

    async def wait_for(self, to: str, *, within: float = 30) -> Message:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for msg in self.messages:
                if to in (msg["To"] or ""):
                    return msg
            await asyncio.sleep(0.1)
        raise AssertionError(f"no e-mail to {to} within {within} s")


@contextmanager
def smtp_sink() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
