"""Test hosts in network namespaces: listeners at addresses that are routed via this machine,
and clients behind a link of a chosen quality.

`netns_link` creates a namespace joined to the host by a veth pair (host .1, namespace .2, the
host its default route); `netns_host` adds the addresses asked for (routed from the host over
the veth) and runs a TCP listener there that greets every connection. Nothing leaves the
machine: these addresses exist only on this host and in the namespace, so containers can be sent
to "the internet" or "a private network" safely.

A client in the namespace (`ip netns exec NAME ...`, e.g. a browser) sees the link the test
makes: `shape_downlink` caps what the host sends it (`tc tbf` on the host's end of the veth:
this kernel has no netem), `drop_udp_in` drops a random share of the UDP it receives and
`block_udp` all of its UDP (iptables rules in the namespace's own tables, gone with it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

LISTENER = r"""
import socket, sys, threading
addrs, port, greeting = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3].encode()
def serve(sock):
    while True:
        conn, _ = sock.accept()
        try:
            conn.sendall(greeting + b"\n")
        finally:
            conn.close()
threads = []
for addr in addrs:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    sock.listen(16)
    threads.append(threading.Thread(target=serve, args=(sock,), daemon=True))
for t in threads:
    t.start()
print("ready", flush=True)
for t in threads:
    t.join()
"""


@dataclass(frozen=True)
class NetnsHost:
    name: str
    addresses: tuple[str, ...]
    port: int
    greeting: str


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def _cleanup(name: str, host_if: str, addresses: tuple[str, ...]) -> None:
    for address in addresses:
        _ip("route", "del", f"{address}/32", check=False)
    _ip("link", "del", host_if, check=False)
    _ip("netns", "del", name, check=False)


@dataclass(frozen=True)
class NetnsLink:
    name: str
    host_if: str  # the host's end of the veth (the namespace's downlink leaves through it)
    host_ip: str  # the host's address on the link, the namespace's gateway
    ns_ip: str


@contextmanager
def netns_link(*, name: str, link_net: str, addresses: tuple[str, ...] = ()) -> Iterator[NetnsLink]:
    """A namespace `name` joined to the host by a veth pair on the /30 `link_net` ("a.b.c.":
    host .1, namespace .2), plus `addresses` in the namespace routed from the host. Everything is
    removed on exit, also when the body fails (deleting the namespace takes its iptables rules)."""
    host_if, ns_if = f"{name[:8]}-h", f"{name[:8]}-n"
    host_ip, ns_ip = f"{link_net}1", f"{link_net}2"
    _cleanup(name, host_if, addresses)  # leftovers of an aborted run
    try:
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        ns = ["netns", "exec", name, "ip"]
        _ip(*ns, "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        for address in addresses:
            _ip(*ns, "addr", "add", f"{address}/32", "dev", ns_if)
            _ip("route", "add", f"{address}/32", "via", ns_ip, "dev", host_if)
        _ip(*ns, "link", "set", ns_if, "up")
        _ip(*ns, "link", "set", "lo", "up")
        _ip(*ns, "route", "add", "default", "via", host_ip)
        yield NetnsLink(name=name, host_if=host_if, host_ip=host_ip, ns_ip=ns_ip)
    finally:
        _cleanup(name, host_if, addresses)


def _run(*args: str) -> None:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")


def shape_downlink(link: NetnsLink, kbps: int | None) -> None:
    """Caps what the host sends into the namespace at `kbps` (None: no cap) with a token bucket
    of about a home router's: a burst of 10 ms at the rate (at least 3 kB) and a queue of 100 ms,
    beyond which packets are dropped."""
    if kbps is None:
        subprocess.run(
            ["tc", "qdisc", "del", "dev", link.host_if, "root"], capture_output=True, timeout=10
        )
        return
    burst = max(3000, kbps * 1000 // 8 // 100)
    _run(
        *("tc", "qdisc", "replace", "dev", link.host_if, "root", "tbf"),
        *("rate", f"{kbps}kbit", "burst", str(burst), "latency", "100ms"),
    )


def _ns_iptables(link: NetnsLink, *rule: str) -> None:
    _run("ip", "netns", "exec", link.name, "iptables", "-w", *rule)


def drop_udp_in(link: NetnsLink, fraction: float, *, remove: bool = False) -> None:
    """Drops `fraction` of the UDP the namespace receives, at random (iptables statistic);
    `remove` takes that rule out again."""
    _ns_iptables(
        link,
        *("-D" if remove else "-A", "INPUT", "-p", "udp", "-m", "statistic", "--mode", "random"),
        *("--probability", f"{fraction:.4f}", "-j", "DROP"),
    )


def block_udp(link: NetnsLink) -> None:
    """No UDP in or out of the namespace (a network that lets only TCP through)."""
    _ns_iptables(link, "-A", "OUTPUT", "-p", "udp", "-j", "DROP")
    _ns_iptables(link, "-A", "INPUT", "-p", "udp", "-j", "DROP")


@contextmanager
def netns_host(
    *,
    name: str,
    link_net: str,
    addresses: tuple[str, ...],
    port: int = 8080,
    greeting: str = "hello",
) -> Iterator[NetnsHost]:
    """`link_net` is a /30 prefix "a.b.c." (host .1, namespace .2) for the veth link."""
    proc: subprocess.Popen[str] | None = None
    with netns_link(name=name, link_net=link_net, addresses=addresses):
        try:
            proc = subprocess.Popen(
                [
                    *("ip", "netns", "exec", name, sys.executable, "-c", LISTENER),
                    *(",".join(addresses), str(port), greeting),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "ready", or EOF after the error that killed it
            if line.strip() != "ready":
                raise RuntimeError(f"netns listener did not start: {line}{proc.stdout.read()}")
            yield NetnsHost(name=name, addresses=addresses, port=port, greeting=greeting)
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
