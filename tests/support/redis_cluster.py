"""A real Redis Cluster of the test's own: three masters started from Debian's `redis-server` on
free loopback ports (no persistence, a temporary directory for their `nodes.conf`), slots split
evenly, joined with CLUSTER MEET. Up in about a second. The test can move a slot from one master
to another while clients use it (`move_slot`: the IMPORTING/MIGRATING dance `redis-cli
--cluster reshard` does), and flush it between tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.asyncio import RedisCluster as AsyncRedisCluster

from controlplane.services.redis_client import redis_client
from tests.support.smtp import free_port

SLOTS = 16384
START_DEADLINE_S = 30.0


@dataclass
class RedisClusterServers:
    ports: list[int]  # the masters (as started)
    processes: dict[int, subprocess.Popen[bytes]]  # every node, by port
    workdir: Path
    ids: dict[int, str] = field(default_factory=dict)  # port -> node id
    replica_of: dict[int, int] = field(default_factory=dict)  # replica port -> master port

    def live(self) -> list[int]:
        return [p for p, proc in self.processes.items() if proc.poll() is None]

    @property
    def url(self) -> str:
        """Any one node, as REDIS_URL names a cluster (with REDIS_CLUSTER=true)."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port)

    def flush(self) -> None:
        for port in self.live():
            if port not in self.replica_of:
                with self.node(port) as r:
                    r.flushall()
        for port in self.replica_of:  # replicas follow their master's flush
            _wait(lambda port=port: _dbsize(self, port) == 0, f"replica {port} flushed")

    def slot_of(self, key: str) -> int:
        with self.node(self.live()[0]) as r:
            return int(r.execute_command("CLUSTER KEYSLOT", key))

    def owner(self, slot: int) -> int:
        """The port of the master serving `slot` (as a live node sees it)."""
        with self.node(self.live()[0]) as r:
            for start, end, master, *_ in r.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise LookupError(f"slot {slot} is not served")

    def move_slot(self, slot: int, to_port: int) -> int:
        """Migrate `slot` (and its keys) to the master on `to_port`; returns how many keys moved.
        Clients meanwhile get ASK and then MOVED redirections; shard channel subscribers of the
        slot on its former owner get an unsolicited `sunsubscribe`."""
        from_port = self.owner(slot)
        assert from_port != to_port, "the slot is there already"
        src, dst = self.node(from_port), self.node(to_port)
        moved = 0
        try:
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", self.ids[from_port])
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", self.ids[to_port])
            while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                src.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
                moved += len(keys)
            # The new owner first, then the old one, then the rest (as redis-cli does).
            for port in [
                to_port,
                from_port,
                *(p for p in self.ports if p not in (to_port, from_port)),
            ]:
                with self.node(port) as r:
                    r.execute_command("CLUSTER SETSLOT", slot, "NODE", self.ids[to_port])
        finally:
            src.close()
            dst.close()
        return moved

    def fail_master(self, port: int) -> int:
        """Kill the master on `port` once its replica has everything it wrote (a clean cut:
        what async replication could lose is not this test's subject); returns the replica's
        port, which the cluster promotes after `cluster-node-timeout` and an election."""
        (replica,) = [r for r, m in self.replica_of.items() if m == port]
        with self.node(port) as r:
            assert int(r.execute_command("WAIT", 1, 5000)) == 1
        self.processes[port].kill()
        self.processes[port].wait()
        return replica

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _start_node(port: int, bus_port: int, workdir: Path) -> subprocess.Popen[bytes]:
    # The cluster bus on a free port of its own (by default it is port + 10000, which is past
    # 65535 for many of the ports free_port hands out).
    args = ["redis-server", "--port", str(port), "--cluster-port", str(bus_port)]
    args += ["--bind", "127.0.0.1"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
    args += ["--cluster-node-timeout", "2000"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        try:
            if check():
                return
        except (redis.ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"redis cluster: {what} not within {START_DEADLINE_S} s")
        time.sleep(0.05)


def _dbsize(cluster: RedisClusterServers, port: int) -> int:
    with cluster.node(port) as r:
        return int(r.dbsize())


def _ping(cluster: RedisClusterServers, port: int) -> bool:
    with cluster.node(port) as r:
        return bool(r.ping())


def _all_agree(cluster: RedisClusterServers) -> bool:
    """Every node knows every node and sees every slot served; every replica is in sync."""
    for port in cluster.live():
        with cluster.node(port) as r:
            info = r.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
            fields = {str(k): str(v) for k, v in info.items()}
            if fields.get("cluster_state") != "ok" or fields.get("cluster_known_nodes") != str(
                len(cluster.processes)
            ):
                return False
            if fields.get("cluster_slots_ok") != str(SLOTS):
                return False
    for port in cluster.replica_of:
        with cluster.node(port) as r:
            if r.info("replication").get("master_link_status") != "up":
                return False
    return True


@contextmanager
def redis_cluster(masters: int = 3, replicas: int = 0) -> Iterator[RedisClusterServers]:
    """`masters` masters with the slots split evenly, each with `replicas` replicas."""
    workdir = Path(tempfile.mkdtemp(prefix="wp-redis-cluster-"))
    count = masters * (1 + replicas)
    free: list[int] = []
    while len(free) < 2 * count:
        if (port := free_port()) not in free:
            free.append(port)
    ports, bus_ports = free[:count], free[count:]
    cluster = RedisClusterServers(ports=ports[:masters], processes={}, workdir=workdir)
    try:
        for port, bus in zip(ports, bus_ports, strict=True):
            cluster.processes[port] = _start_node(port, bus, workdir)
        for port in ports:
            _wait(lambda port=port: _ping(cluster, port), f"node {port} up")
            with cluster.node(port) as r:
                cluster.ids[port] = r.execute_command("CLUSTER MYID").decode()
        per = SLOTS // masters
        for i, port in enumerate(cluster.ports):
            with cluster.node(port) as r:
                r.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
                last = SLOTS - 1 if i == masters - 1 else (i + 1) * per - 1
                r.execute_command("CLUSTER ADDSLOTSRANGE", i * per, last)
        with cluster.node(ports[0]) as r:
            for port, bus in zip(ports[1:], bus_ports[1:], strict=True):
                r.execute_command("CLUSTER MEET", "127.0.0.1", port, bus)
        for i, port in enumerate(ports[masters:]):
            master = cluster.ports[i % masters]
            cluster.replica_of[port] = master
            _wait(lambda port=port, master=master: _knows(cluster, port, master), "a replica meets")
            with cluster.node(port) as r:
                r.execute_command("CLUSTER REPLICATE", cluster.ids[master])
        _wait(lambda: _all_agree(cluster), "all nodes agreeing on the slots")
        yield cluster
    finally:
        cluster.stop()


def _knows(cluster: RedisClusterServers, port: int, other: int) -> bool:
    with cluster.node(port) as r:
        nodes = r.execute_command("CLUSTER NODES")
        return cluster.ids[other] in (nodes.decode() if isinstance(nodes, bytes) else str(nodes))


async def cluster_client(servers: RedisClusterServers) -> AsyncRedisCluster:
    """The product's own cluster client (`redis_client(..., cluster=True)`) on an emptied
    cluster, its slot map loaded."""
    servers.flush()
    client = redis_client(servers.url, cluster=True)
    assert isinstance(client, AsyncRedisCluster)
    await client.initialize()
    return client
