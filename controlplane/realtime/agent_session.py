"""A room agent's socket, from `auth.ok` to its clean-up: register it with the hub (replacing
an older socket of the same room), tell the room its agent is connected, read its frames
(bounded in size and rate) into the agent channel, keep its peers in sync, and, once it ends,
release the room's agent slot in presence.

The hub (`hub.py`) holds the registry, the bus and the room events; this module only serves a
socket on top of them. What each agent message does is `agent_channel.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import WebSocket
from watchparty_wire.agent import AgentError, AuthOk, PeersSync

from controlplane.models import Room, RoomStatus
from controlplane.ports import StatusNews
from controlplane.realtime.connections import (
    CLOSE_NORMAL,
    CLOSE_SERVICE_RESTART,
    AgentConn,
    Flood,
    end_writer,
    until_over,
)
from controlplane.realtime.hub import Hub
from controlplane.rooms.ice import ice_servers

log = logging.getLogger(__name__)


async def serve_agent(hub: Hub, ws: WebSocket, room: Room) -> None:
    room_id = str(room.id)
    agent = AgentConn(id=hub.socket_id(), room_id=room_id, outbox=hub.outbox(ws))
    await hub.add_agent(agent)
    writer = agent.outbox.start(f"agent-writer-{agent.id}")
    syncing: asyncio.Task[None] | None = None
    try:
        await hub.presence.set_agent(room_id, agent.id)
        _, remote = await hub.remote_state(room_id)
        agent.send(
            AuthOk(
                room_id=room_id,
                holder_id=remote.holder_id or None,
                pooled=room.pooled,
                start_url=room.start_url,
                ice_servers=ice_servers(hub.settings, user=f"agent-{room_id}", now=time.time()),
                conns=sorted(await hub.presence.conns(room_id)),
                block_ads=room.block_ads,
                keep_profile=room.keep_profile and not room.pooled,
            )
        )
        syncing = asyncio.create_task(_sync_peers(hub, agent), name=f"peers-{agent.id}")
        news = StatusNews(status=RoomStatus(room.status), agent_connected=True)
        await hub.broadcast(room_id, news.message())
        log.info("agent connected", extra={"room": room.room_code})
        await until_over(_agent_loop(hub, ws, agent, room.room_code), agent.outbox)
    finally:
        agent.throttles.cancel()
        if syncing is not None:
            syncing.cancel()
        hub.drop_agent(agent)
        agent.outbox.close(CLOSE_NORMAL)
        cancelled = await end_writer(writer)
        moved = agent.outbox.close_code == CLOSE_SERVICE_RESTART
        hub.spawn(_after_agent(hub, room_id, agent.id, moved), f"agent-cleanup-{agent.id}")
        if cancelled:
            raise asyncio.CancelledError


async def _agent_loop(hub: Hub, ws: WebSocket, agent: AgentConn, room_code: str) -> None:
    """An agent's frames. Past AGENT_FLOOD_PER_SECOND they are dropped (one `rate_limited`
    says so); one over ROOM_WS_MAX_FRAME_BYTES is answered `frame_too_large` and the channel
    stays open: a page's huge title must not cut its room off (the transport's own limit,
    `main.WS_TRANSPORT_FACTOR` times larger, lets the frame reach us to be answered)."""
    limit = hub.settings.ROOM_WS_MAX_FRAME_BYTES
    while True:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            return
        flood = agent.frames.hit()
        if flood is Flood.warn:
            log.warning(
                "agent frames over the limit: dropped for the rest of the second",
                extra={"room": room_code, "per_second": agent.frames.limit},
            )
            agent.send(AgentError(code="rate_limited", message="Too many messages"))
        if flood is not Flood.ok:
            continue
        text = frame.get("text")
        size = len(text.encode()) if text is not None else len(frame.get("bytes") or b"")
        if size > limit:
            log.warning(
                "agent frame too large: refused",
                extra={"room": room_code, "bytes": size, "limit": limit},
            )
            detail = f"Frames are limited to {limit} bytes"
            agent.send(AgentError(code="frame_too_large", message=detail))
            continue
        await hub.agent_channel.handle(agent, text, room_code)


async def _sync_peers(hub: Hub, agent: AgentConn) -> None:
    """Tell the agent the room's present sockets every ROOM_AGENT_PEER_SYNC_SECONDS, so it
    drops the peer of a socket whose `peer.closed` was lost (a kicked user's too)."""
    every = hub.settings.ROOM_AGENT_PEER_SYNC_SECONDS
    while not agent.outbox.closing:
        await asyncio.sleep(every)
        try:
            conns = await hub.presence.conns(agent.room_id)
        except Exception:
            log.warning("peer sync skipped", extra={"room": agent.room_id}, exc_info=True)
            continue
        agent.send(PeersSync(conns=sorted(conns)))


async def _after_agent(hub: Hub, room_id: str, owner: str, moved: bool) -> None:
    """Release the room's agent slot, and say the agent is gone unless another socket of it
    took the slot meanwhile. An agent this process moved away (1012: `drain.py`) reconnects to
    another process at once: its slot is released only after ROOM_PRESENCE_GRACE_SECONDS, so
    viewers do not drop their stream for a move."""
    try:
        await hub.detach(room_id)
        if moved:
            await asyncio.sleep(hub.settings.ROOM_PRESENCE_GRACE_SECONDS)
        async with hub.presence_lock(room_id):
            await hub.presence.set_agent(room_id, None, only_if=owner)
        if await hub.presence.agent(room_id) is None:
            await hub.announce_agent(room_id, connected=False)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("agent cleanup failed", extra={"room": room_id})
