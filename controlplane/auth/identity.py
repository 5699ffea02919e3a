"""Who is asking, as rate limits key it: the login name as the lookup reads it, and the client
address a trusted proxy saw. Pure: no I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

ADDRESS_MAX = 64

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def login_identity(raw: str) -> str:
    """The login name as both the account lookup and the per-account rate limit see it: trimmed
    and case-folded, so `" Alice"` and `"alice"` share one budget (usernames and e-mails are
    looked up case-insensitively)."""
    return raw.strip().lower()


def is_trusted_proxy(peer: str, trusted_proxies: Sequence[IPNetwork]) -> bool:
    """Whether the socket's peer is one of the configured proxies (an IPv4-mapped IPv6 peer
    counts as its IPv4 address; a peer that is no address, e.g. a Unix socket, never does)."""
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in trusted_proxies)


def client_address(
    *,
    forwarded_for: str | None,
    peer: str,
    trusted_hops: int,
    trusted_proxies: Sequence[IPNetwork],
) -> str:
    """The client address behind `trusted_hops` proxies that each append to X-Forwarded-For.

    The header is believed only from a peer in `trusted_proxies` (TRUSTED_PROXY_CIDRS): from
    anyone else it is whatever that client chose to write, and the client is the peer itself.
    Every entry left of the ones our proxies wrote is whatever the client chose to send, so the
    client is the right-most entry the outermost trusted proxy appended: the `trusted_hops`-th
    from the right. With no header (or `trusted_hops` 0) it is the socket's peer; with fewer
    entries than hops (a misconfigured count), the left-most, still written by a trusted proxy.
    """
    if trusted_hops <= 0 or not forwarded_for or not is_trusted_proxy(peer, trusted_proxies):
        return peer
    hops = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not hops:
        return peer
    return hops[-min(trusted_hops, len(hops))][:ADDRESS_MAX]
