"""Test hosts in network namespaces: listeners at addresses that are routed via this machine.

`netns_host` creates a namespace joined to the host by a veth pair, gives it the addresses asked
for (routed from the host over the veth), and runs a TCP listener there that greets every
connection. Nothing leaves the machine: these addresses exist only on this host and in the
namespace, so containers can be sent to "the internet" or "a private network" safely.
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
    host_if, ns_if = f"{name[:8]}-h", f"{name[:8]}-n"
    host_ip, ns_ip = f"{link_net}1", f"{link_net}2"
    _cleanup(name, host_if, addresses)  # leftovers of an aborted run
    proc: subprocess.Popen[str] | None = None
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
        _cleanup(name, host_if, addresses)
