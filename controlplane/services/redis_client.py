"""The Redis client the adapters share: one server (`Redis`) or a Redis Cluster (`RedisCluster`,
with `REDIS_CLUSTER=true`). Both speak the same commands; what differs is only where a key lives.

On a cluster every command and script must keep to one hash slot. The adapters therefore write a
room's keys and channels with the room id as their hash tag (`wp:room:{<id>}:seq`), so all of a
room's state and its shard channels share a slot (docs/architecture.md, "Redis Cluster"); a few
reads that span slots (the instances' liveness marks) are pipelines of single-key commands,
which the cluster client splits by node.
"""

from __future__ import annotations

import inspect

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

RedisClient = Redis | RedisCluster

# The keyword arguments a single-server client takes, to open a plain connection to one node of
# a cluster with the cluster's own credentials, TLS and timeouts (sharded pub/sub needs one).
_REDIS_PARAMS = frozenset(inspect.signature(Redis.__init__).parameters) - {
    "self",
    "host",
    "port",
    "connection_pool",
    "max_connections",
}


def redis_client(url: str, *, cluster: bool = False) -> RedisClient:
    """The API's Redis client. After a restart or failover every pooled connection is dead
    without the client knowing: a connection idle for `health_check_interval` is pinged before
    use, and a command whose connection turns out lost is sent again on a new one (twice at most,
    briefly backed off), instead of each stale connection failing a request once (a 500). A
    Redis that stays down still fails fast: the retries take well under a second.

    With `cluster`, `url` names any one node (its database must be 0); the client learns the
    others and the slot map from it, follows MOVED/ASK redirections, and refreshes the map after
    a failover or a resharding."""
    if cluster:
        return RedisCluster.from_url(
            url,
            health_check_interval=10,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        )
    return Redis.from_url(
        url,
        health_check_interval=10,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), 2),
        retry_on_error=[RedisConnectionError],
    )


def node_client(cluster: RedisCluster, host: str, port: int) -> Redis:
    """A plain client of one cluster node, configured as the cluster's own connections are.
    A lost connection is retried twice, briefly: a node that is gone (a failover) must show
    as an error within a second, so its channels move on to the node that took over."""
    own = cluster.get_connection_kwargs()
    kwargs = {k: v for k, v in own.items() if k in _REDIS_PARAMS and v is not None}
    connection_class = own.get("connection_class")
    kwargs["ssl"] = isinstance(connection_class, type) and issubclass(
        connection_class, SSLConnection
    )
    kwargs["retry"] = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), 2)
    return Redis(host=host, port=port, **kwargs)
