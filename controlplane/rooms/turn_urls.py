"""Which TURN URLs viewers and agents get: the configured ones plus their TCP and TLS twins.

A viewer whose network drops UDP (many hotel, office and phone-tether networks do) can still
reach the room through TURN over TCP, or over TLS on port 443-like ports where even plain TCP to
odd ports is filtered. coturn listens on TCP at its listening port by default, so every
configured `turn:HOST:PORT` (UDP) server gets its `turn:HOST:PORT?transport=tcp` twin, and with
a TLS port (`TURN_TLS_PORT`, a certificate in coturn) a `turns:HOST:TLSPORT?transport=tcp` too.

The configured URLs come first, in their order: browsers gather from every URL anyway and rank
relay candidates UDP over TCP over TLS themselves, and aiortc (the room agent) uses the first TURN
URL it can, so the agent keeps relaying over UDP as before.
"""

from __future__ import annotations

from urllib.parse import parse_qs

DEFAULT_PORT = 3478


def _host_port(url: str) -> tuple[str, str, int, str | None] | None:
    """(scheme, host, port, transport) of a `turn:`/`turns:` URL (RFC 7065), None otherwise."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("turn", "turns"):
        return None
    address, _, query = rest.partition("?")
    transport = parse_qs(query).get("transport", [None])[0]
    if address.startswith("["):  # an IPv6 literal: [::1]:3478
        host, _, tail = address.partition("]")
        host += "]"
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = address.partition(":")
    if not host:
        return None
    try:
        port = int(port_text) if port_text else (5349 if scheme == "turns" else DEFAULT_PORT)
    except ValueError:
        return None
    return scheme, host, port, transport


def turn_urls(configured: list[str], *, tcp: bool, tls_port: int | None) -> list[str]:
    """`configured`, then for each plain TURN server (`turn:` over UDP, the default transport)
    its TCP twin unless it is listed already (with `tcp`), then `turns:HOST:tls_port` once per
    host (with `tls_port`). Unparseable URLs pass through untouched."""
    out = list(configured)
    hosts: list[tuple[str, int]] = []
    for url in configured:
        parsed = _host_port(url)
        if parsed is None:
            continue
        scheme, host, port, transport = parsed
        if scheme == "turn" and transport in (None, "udp") and (host, port) not in hosts:
            hosts.append((host, port))
    for host, port in hosts:
        twin = f"turn:{host}:{port}?transport=tcp"
        if tcp and twin not in out:
            out.append(twin)
    if tls_port is not None:
        for host in dict.fromkeys(h for h, _ in hosts):
            tls = f"turns:{host}:{tls_port}?transport=tcp"
            if tls not in out:
                out.append(tls)
    return out
