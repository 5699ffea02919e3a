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
from typing import TYPE_CHECKING, Any, TypeVar

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
M = TypeVar("M", AgentTabsOpen, AgentTabsSwitch, AgentTabsClose)


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

    def guarded(model: type[M], act: Callable[[Components, M], Awaitable[object]]) -> Handler:
        """Read the message, drop it unless from the holder, act, answer a refusal."""

        async def handle(parts: Components, data: dict[str, Any]) -> None:
            msg = read(model, data)
            if not await from_holder(msg.by, msg.conn, msg.TYPE):
                return
            parts.video.boost()
            try:
                await act(parts, msg)
            except TabRefused as e:
                await refuse(msg.TYPE, e.code, str(e), msg.conn)

        return handle

    def open_(parts: Components, msg: AgentTabsOpen) -> Awaitable[object]:
        web = msg.url if msg.url and msg.url.startswith(("http://", "https://")) else None
        return parts.browser.open_tab(web)

    return {
        "tabs.open": guarded(AgentTabsOpen, open_),
        "tabs.switch": guarded(AgentTabsSwitch, lambda parts, m: parts.browser.switch_tab(m.id)),
        "tabs.close": guarded(AgentTabsClose, lambda parts, m: parts.browser.close_tab(m.id)),
    }
