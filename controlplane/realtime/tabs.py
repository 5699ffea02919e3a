"""The room browser's tabs (issue 22) on the room socket: the holder's `tabs.open`,
`tabs.switch` and `tabs.close` (docs/protocol.md); the agent's `tabs.state` is relayed by
`agent_channel.py`.

Holder-only, checked here before anything reaches the agent (the agent checks again against the
holder it was told). The agent is the truth about its tabs: the last `tabs.state` it sent is
kept in the presence store (for `room.state` and for refusing an unknown tab or a tab past the
cap without a round trip). What the agent refuses itself (a page opened a tab meanwhile) comes
back as its `tabs.refused`, relayed by `agent_channel.py` to the sender's socket alone.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

from watchparty_wire import room as w
from watchparty_wire.agent import AgentTabsClose, AgentTabsOpen, AgentTabsSwitch
from watchparty_wire.envelope import Outbound

from controlplane.errors import DomainError, Kind
from controlplane.realtime.bus import AGENT, Address
from controlplane.realtime.connections import ClientConn
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.settings import Settings

log = logging.getLogger(__name__)


class TabsIO(Protocol):
    """What of the hub this needs (a part of `client_handlers.RoomIO`)."""

    async def broadcast(self, room_id: uuid.UUID | str, msg: Outbound) -> int: ...

    async def direct(self, room_id: str, to: Address, msg: Outbound) -> None: ...

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]: ...


def _refuse(kind: Kind, code: str, detail: Any) -> DomainError:
    return DomainError(kind, code, detail)


class Tabs:
    def __init__(self, *, io: TabsIO, settings: Settings, presence: Presence) -> None:
        self.io = io
        self.settings = settings
        self.presence = presence

    # ---------------------------------------------------------------- room socket (holder)

    async def _known(self, conn: ClientConn) -> dict[str, Any]:
        """The holder check, then the agent's last `tabs.state` (`{}` before its first)."""
        _, remote = await self.io.remote_state(conn.room_id)
        if remote.holder_id != conn.user_id:
            raise _refuse(Kind.forbidden, "not_holder", "Only the holder of the remote can do that")
        if await self.presence.agent(conn.room_id) is None:
            raise _refuse(
                Kind.unavailable, "agent_unavailable", "The room's browser is not connected yet"
            )
        return await self.presence.tabs(conn.room_id) or {}

    @staticmethod
    def _require_tab(state: dict[str, Any], tab_id: str) -> None:
        if state and not any(t.get("id") == tab_id for t in state.get("tabs", [])):
            raise _refuse(Kind.not_found, "no_such_tab", "The room's browser has no such tab")

    async def open(self, conn: ClientConn, msg: w.TabsOpen) -> None:
        state = await self._known(conn)
        cap = self.settings.ROOM_MAX_TABS
        if len(state.get("tabs", [])) >= cap:
            raise _refuse(
                Kind.conflict, "too_many_tabs", f"The room's browser has at most {cap} tabs"
            )
        url: str | None = None
        if msg.url is not None:
            try:
                url = await check_url_async(
                    msg.url, allow_private=self.settings.ROOM_ALLOW_PRIVATE_URLS
                )
            except UrlRejected as exc:
                raise _refuse(Kind.invalid, "url_not_allowed", str(exc)) from None
        await self.io.direct(
            conn.room_id, AGENT, AgentTabsOpen(url=url, by=conn.user_id, conn=conn.id)
        )
        log.info("tab opened", extra={"room": conn.room_id, "user_id": conn.user_id})

    async def switch(self, conn: ClientConn, msg: w.TabRef) -> None:
        state = await self._known(conn)
        self._require_tab(state, msg.id)
        await self.io.direct(
            conn.room_id, AGENT, AgentTabsSwitch(id=msg.id, by=conn.user_id, conn=conn.id)
        )

    async def close(self, conn: ClientConn, msg: w.TabRef) -> None:
        state = await self._known(conn)
        self._require_tab(state, msg.id)
        if state and len(state.get("tabs", [])) <= 1:
            raise _refuse(Kind.conflict, "last_tab", "The room's browser keeps at least one tab")
        await self.io.direct(
            conn.room_id, AGENT, AgentTabsClose(id=msg.id, by=conn.user_id, conn=conn.id)
        )
        log.info("tab closed", extra={"room": conn.room_id, "user_id": conn.user_id})
