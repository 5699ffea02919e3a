"""Moving a stopping API process's sockets to the other processes (issue 23: a rolling upgrade
that loses nothing).

Every room socket this process holds is closed with 1012 "service restart", which the web app
takes as "reconnect now, elsewhere, without an error" (docs/protocol.md, close codes), one after
the other over SHUTDOWN_DRAIN_SECONDS, so the remaining processes see a trickle of reconnects
rather than every client at once. Agent sockets go last, with the same code: a room agent
reconnects (through the Service) to another process, and keeps its viewers' peers meanwhile.

A close is orderly (`Outbox.close`): what was already queued for the socket is sent before the
close frame, so no broadcast the socket was due is dropped. Frames the client sends after that
are not handled (as for any closing socket); the web app resends an unconfirmed chat message
with its `client_id` after it reconnects, which the server stores once (docs/protocol.md,
`chat.send`). Each closed socket's clean-up (presence with its grace, the remote, the agent's
peer) runs as for any other close; the drain waits for those too, so the users who moved are
still online elsewhere and the ones who did not come back are announced gone.

Concurrency contract: runs once, on the process's event loop, after the listeners stopped
accepting (`controlplane/draining.py`); a socket that still arrives is refused with 1012 by its
route (`started`). Bounded: the spread, then at most `wait_s` for the sockets and their
clean-ups; nothing here waits on Redis directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from controlplane.realtime.connections import CLOSE_SERVICE_RESTART
from controlplane.realtime.hub import Hub

log = logging.getLogger(__name__)

REASON = "service restart"
POLL_S = 0.05


@dataclass
class Drain:
    hub: Hub
    # Over how long the closes are spread (SHUTDOWN_DRAIN_SECONDS).
    spread_s: float
    # How long, after the last close, to wait for sockets and clean-ups (SHUTDOWN_TIMEOUT_SECONDS).
    wait_s: float
    started: bool = False

    async def run(self) -> None:
        """Close every socket of this process with 1012, spread over `spread_s`, then wait
        (at most `wait_s`) until they and their clean-ups are done."""
        if self.started:
            return
        self.started = True
        loop = asyncio.get_running_loop()
        clients, agents = self.hub.open_sockets()
        log.info(
            "draining: moving sockets to other processes",
            extra={"room_sockets": len(clients), "agents": len(agents), "s": self.spread_s},
        )
        began = loop.time()
        for i, conn in enumerate(clients):
            await asyncio.sleep(max(0.0, began + self.spread_s * i / len(clients) - loop.time()))
            conn.outbox.close(CLOSE_SERVICE_RESTART, REASON)
            log.debug("moved", extra={"room": conn.room_id, "user_id": conn.user_id})
        for agent in agents:
            agent.outbox.close(CLOSE_SERVICE_RESTART, REASON)
        await self._settled(loop.time() + self.wait_s)

    async def _settled(self, deadline: float) -> None:
        """Wait until this process holds no socket and runs no socket clean-up, or `deadline`.
        Polled: a session leaves the registry a moment before it spawns its clean-up, so
        "nothing left" must be seen twice in a row, POLL_S apart."""
        loop = asyncio.get_running_loop()
        quiet = 0
        while loop.time() < deadline:
            clients, agents = self.hub.open_sockets()
            quiet = 0 if clients or agents or self.hub.cleanups() else quiet + 1
            if quiet == 2:
                log.info("drained: no sockets left")
                return
            await asyncio.sleep(POLL_S)
        clients, agents = self.hub.open_sockets()
        log.warning(
            "drain overran: stopping with sockets left",
            extra={"room_sockets": len(clients), "agents": len(agents), "s": self.wait_s},
        )
