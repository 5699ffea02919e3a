"""Sharded pub/sub (`SSUBSCRIBE`, Redis >= 7) for the room bus, on one Redis or a Redis Cluster.

A shard channel lives on the node that owns its hash slot: a message `SPUBLISH`ed there reaches
only that node's subscribers, instead of every node of the cluster as plain `PUBLISH` does. So a
subscriber keeps one pub/sub connection per node it has channels on, each read by a task of its
own (a message on one node never waits behind a read on another). A single Redis is the cluster
of one node: the same code runs on both.

When a slot moves (resharding) its old owner ends the subscriptions of the slot's channels with
an unsolicited `sunsubscribe`; when a node fails (or its connection breaks, or it answers a
subscription with a redirection) its reader fails. Either way the channels concerned are placed
again: the slot map is refreshed and each channel is subscribed at its current owner, retried
with backoff until that succeeds. Messages published in between never reach this subscriber;
the bus's `seq` shows the gap to clients, which resync (docs/protocol.md, "Envelope").

Concurrency: all of it runs on one event loop. `subscribe`, `unsubscribe` and the re-placing task
hold `_lock` while they change where channels are placed; readers only read, deliver, and mark
channels for the re-placing task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub

from controlplane.services.redis_client import RedisClient, node_client
from controlplane.shutdown import cancel_all

log = logging.getLogger(__name__)

# (channel, payload), called on the event loop for each message; must not block.
OnMessage = Callable[[str, bytes], None]

READ_TIMEOUT_S = 1.0
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Topology(Protocol):
    """Which node serves a channel, and a client whose pub/sub reaches that node."""

    async def ready(self) -> None:
        """Know the slot map (learnt once, at first use)."""
        ...

    def owner(self, channel: str) -> str: ...

    def client(self, node: str) -> Redis: ...

    async def refresh(self) -> None:
        """Learn the slot map again (after a redirection, a failover or a resharding)."""
        ...

    async def aclose(self) -> None: ...


class OneServer:
    """A single Redis: every channel is on it."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def ready(self) -> None:
        return None

    def owner(self, channel: str) -> str:
        return "redis"

    def client(self, node: str) -> Redis:
        return self._redis

    async def refresh(self) -> None:
        return None

    async def aclose(self) -> None:
        return None  # the client is the caller's


class ClusterTopology:
    """A Redis Cluster: the owner of a channel's slot, per the cluster client's slot map."""

    def __init__(self, cluster: RedisCluster) -> None:
        self._cluster = cluster
        self._clients: dict[str, Redis] = {}

    async def ready(self) -> None:
        await self._cluster.initialize()  # a no-op once the client has its slot map

    def owner(self, channel: str) -> str:
        node = self._cluster.get_node_from_key(channel)
        if node is None:
            raise LookupError(f"no node serves {channel}")
        return str(node.name)

    def client(self, node: str) -> Redis:
        if node not in self._clients:
            found = self._cluster.get_node(node_name=node)
            if found is None:
                raise LookupError(f"no cluster node {node}")
            self._clients[node] = node_client(self._cluster, found.host, int(found.port))
        return self._clients[node]

    async def refresh(self) -> None:
        await self._cluster.initialize()
        await self._cluster.nodes_manager.initialize()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()


def topology_for(redis: RedisClient) -> Topology:
    return ClusterTopology(redis) if isinstance(redis, RedisCluster) else OneServer(redis)


@dataclass
class _Node:
    name: str
    pubsub: PubSub
    reader: asyncio.Task[None] | None = None
    # Channels we sunsubscribed ourselves: their confirmation is not a slot move.
    leaving: set[str] = field(default_factory=set)


class ShardChannels:
    def __init__(self, topology: Topology, on_message: OnMessage) -> None:
        self._topology = topology
        self._on_message = on_message
        self._wanted: set[str] = set()
        self._placed: dict[str, str] = {}  # channel -> node name
        self._nodes: dict[str, _Node] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._unplaced = asyncio.Event()
        self._placer: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # held until done (no GC mid-close)

    async def subscribe(self, channels: Iterable[str], *, confirm_s: float = 5.0) -> None:
        """Subscribe each channel on its node; returns once the nodes confirmed (or after
        `confirm_s`, with a warning). Raises, subscribing nothing, when Redis cannot be reached."""
        channels = list(channels)
        waits = []
        async with self._lock:
            try:
                for ch in channels:
                    self._wanted.add(ch)
                    event = self._confirmed.setdefault(ch, asyncio.Event())
                    event.clear()  # before the SSUBSCRIBE goes out: its reply sets it
                    if await self._place(ch):
                        waits.append(event.wait())
            except BaseException:
                for ch in channels:
                    self._wanted.discard(ch)
                    self._confirmed.pop(ch, None)
                    await self._forget(ch)
                raise
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout=confirm_s)
        except TimeoutError:
            log.warning("redis subscription not confirmed in time", extra={"channels": channels})

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._lock:
            for ch in channels:
                self._wanted.discard(ch)
                self._confirmed.pop(ch, None)
                await self._forget(ch)

    def placement(self) -> dict[str, str]:
        """Where each channel is subscribed now (node name), for tests and logs."""
        return dict(self._placed)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop the readers and the placer, close every node's connection. Bounded: a reader
        stuck on a cut-off node (redis-py can lose a cancellation) is left behind, logged."""
        readers = [n.reader for n in self._nodes.values() if n.reader is not None]
        placer = [self._placer] if self._placer is not None else []
        await cancel_all([*placer, *readers], timeout_s, name="redis shard readers")
        nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            await _close_quietly(node.pubsub, timeout_s)
        if self._closing:
            await asyncio.wait(self._closing, timeout=timeout_s)
        await self._topology.aclose()

    # ------------------------------------------------------------------ placing

    def _node(self, name: str) -> _Node:
        node = self._nodes.get(name)
        if node is None:
            node = _Node(name=name, pubsub=self._topology.client(name).pubsub())
            self._nodes[name] = node
        return node

    async def _place(self, channel: str) -> bool:
        """Subscribe `channel` at its owner unless it is subscribed there already (under
        `_lock`); True when an SSUBSCRIBE went out. A subscription left on a former owner is
        dropped first."""
        await self._topology.ready()
        owner = self._topology.owner(channel)
        if self._placed.get(channel) == owner and owner in self._nodes:
            return False
        await self._forget(channel)
        node = self._node(owner)
        node.leaving.discard(channel)
        try:
            await node.pubsub.ssubscribe(channel)
        except Exception:
            if node.reader is None:  # never connected: start afresh next time
                self._nodes.pop(owner, None)
                await _close_quietly(node.pubsub)
            raise
        self._placed[channel] = owner
        if node.reader is None:
            node.reader = asyncio.create_task(self._read(node), name=f"redis-shard-{owner}")
        return True

    async def _forget(self, channel: str) -> None:
        """Drop `channel`'s subscription wherever it is (best effort: its node may be gone)."""
        name = self._placed.pop(channel, None)
        node = self._nodes.get(name) if name else None
        if node is None:
            return
        _drop_tracking(node.pubsub, channel)
        node.leaving.add(channel)
        try:
            await node.pubsub.execute_command("SUNSUBSCRIBE", channel)
        except Exception as exc:  # the node is unreachable: its reader will notice
            log.info("shard unsubscribe failed", extra={"channel": channel, "error": repr(exc)})

    def _wake_placer(self) -> None:
        self._unplaced.set()
        if self._placer is None or self._placer.done():
            self._placer = asyncio.create_task(self._place_again(), name="redis-shard-placer")

    async def _place_again(self) -> None:
        """Place every wanted channel that lost its subscription, until all are placed."""
        delay = RETRY_FIRST_S
        while self._unplaced.is_set():
            self._unplaced.clear()
            try:
                async with self._lock:
                    await self._topology.refresh()
                    for ch in sorted(self._wanted):
                        await self._place(ch)
                log.info("redis shard channels placed again", extra={"nodes": self._summary()})
                delay = RETRY_FIRST_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis shard channels not placed yet", extra={"error": repr(exc)})
                self._unplaced.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in self._placed.values():
            counts[name] = counts.get(name, 0) + 1
        return counts

    # ------------------------------------------------------------------ reading

    async def _read(self, node: _Node) -> None:
        while True:
            try:
                msg = await node.pubsub.get_message(timeout=READ_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._node_failed(node, exc)
                return
            if msg is not None:
                self._handle(node, msg)

    def _handle(self, node: _Node, msg: dict[str, object]) -> None:
        kind = msg["type"]
        channel = _s(msg["channel"])  # type: ignore[arg-type]
        if kind == "smessage":
            if channel not in self._wanted:
                return  # unsubscribed, its confirmation not read yet
            data = msg["data"]
            try:
                self._on_message(channel, data if isinstance(data, bytes) else str(data).encode())
            except Exception:
                log.exception("shard channel handler failed", extra={"channel": channel})
        elif kind == "ssubscribe":
            event = self._confirmed.get(channel)
            if event is not None:
                event.set()
        elif kind == "sunsubscribe":
            if channel in node.leaving:
                node.leaving.discard(channel)
            elif self._placed.get(channel) == node.name:
                # The node no longer owns the channel's slot (it moved): subscribe it again
                # where it lives now.
                log.info("shard channel moved", extra={"channel": channel, "node": node.name})
                _drop_tracking(node.pubsub, channel)
                self._placed.pop(channel, None)
                self._wake_placer()

    def _node_failed(self, node: _Node, exc: Exception) -> None:
        """The node's connection broke (or it refused a subscription): place its channels
        again, on whichever node owns them once the slot map is refreshed."""
        lost = [ch for ch, name in self._placed.items() if name == node.name]
        log.warning(
            "redis shard connection lost",
            extra={"node": node.name, "channels": len(lost), "error": repr(exc)},
        )
        for ch in lost:
            self._placed.pop(ch, None)
        if self._nodes.get(node.name) is node:
            self._nodes.pop(node.name)
        closing = asyncio.create_task(_close_quietly(node.pubsub), name="redis-shard-close")
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        self._wake_placer()


def _drop_tracking(pubsub: PubSub, channel: str) -> None:
    """Forget `channel` in the pub/sub's own list, so its reconnect does not subscribe it again
    on a node that no longer serves it."""
    for key in (channel, channel.encode()):
        pubsub.shard_channels.pop(key, None)
        pubsub.pending_unsubscribe_shard_channels.discard(key)


async def _close_quietly(pubsub: PubSub, timeout_s: float = 5.0) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pubsub.aclose(), timeout=timeout_s)
