"""The control plane's `tabs.*` messages (docs/protocol.md): open, switch and close a tab of the
room's browser, for the holder of the remote only.

The control plane checks the holder before it forwards them; the agent checks again, as it does
for input, against the holder it was told (`remote.changed`, in order on the same channel): a
message whose `by` is anyone else is dropped and answered `tabs.refused {code: "not_holder"}`.
Every refusal carries the sender's `conn`, so the control plane relays it to them alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from watchparty_wire.agent import (
    AgentTabsClose,
    AgentTabsOpen,
    AgentTabsRefused,
    AgentTabsSwitch,
)
from watchparty_wire.envelope import read

from .tabs import TabRefused

if TYPE_CHECKING:
    from .components import Components
    from .control import ControlClient

log = logging.getLogger("roomagent.tabs")

Handler = Callable[["Components", dict[str, Any]], Awaitable[None]]


def handlers(control: ControlClient, holder: Callable[[], str | None]) -> dict[str, Handler]:
    """`tabs.open`, `tabs.switch` and `tabs.close`, by type."""

    async def refuse(type_: str, code: str, message: str, conn: str) -> None:
        await control.send(AgentTabsRefused(type=type_, code=code, message=message, conn=conn))

    async def from_holder(by: str, conn: str, type_: str) -> bool:
        if by and by == holder():
            return True
        log.warning(
            "tab command from someone without the remote: dropped",
            extra={"type": type_, "by": by},
        )
        await refuse(type_, "not_holder", "Only the holder of the remote can do that", conn)
        return False

    async def open_(parts: Components, data: dict[str, Any]) -> None:
        msg = read(AgentTabsOpen, data)
        if not await from_holder(msg.by, msg.conn, msg.TYPE):
            return
        url = msg.url if msg.url and msg.url.startswith(("http://", "https://")) else None
        parts.video.boost()
        try:
            await parts.browser.open_tab(url)
        except TabRefused as e:
            await refuse(msg.TYPE, e.code, str(e), msg.conn)

    async def switch(parts: Components, data: dict[str, Any]) -> None:
        msg = read(AgentTabsSwitch, data)
        if not await from_holder(msg.by, msg.conn, msg.TYPE):
            return
        parts.video.boost()
        try:
            await parts.browser.switch_tab(msg.id)
        except TabRefused as e:
            await refuse(msg.TYPE, e.code, str(e), msg.conn)

    async def close(parts: Components, data: dict[str, Any]) -> None:
        msg = read(AgentTabsClose, data)
        if not await from_holder(msg.by, msg.conn, msg.TYPE):
            return
        parts.video.boost()
        try:
            await parts.browser.close_tab(msg.id)
        except TabRefused as e:
            await refuse(msg.TYPE, e.code, str(e), msg.conn)

    return {"tabs.open": open_, "tabs.switch": switch, "tabs.close": close}
