"""Which URLs a room's browser may be sent to.

http/https only; a hostname is resolved and refused when any of its addresses is private,
loopback, link-local (which covers cloud metadata at 169.254.169.254), unspecified, multicast or
otherwise reserved, unless the deployment allows private addresses (local development and tests).
Pure apart from the resolver, which callers may replace.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048

Resolver = Callable[[str], Iterable[str]]

# Addresses outside the usual flags that still reach the provider's internals.
_EXTRA_BLOCKED = [
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT (also Alibaba's metadata)
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS IPv6 metadata
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64: may embed a private IPv4 address
]
_BLOCKED_HOSTNAMES = {"localhost", "metadata", "metadata.google.internal"}


class UrlRejected(ValueError):
    """The URL is not allowed; `str(exc)` says why in words fit for a user."""


def system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def address_problem(address: str) -> str | None:
    """Why an IP address is off limits, or None when it is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = [
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local or metadata"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (any(ip in net for net in _EXTRA_BLOCKED), "internal"),
    ]
    for hit, label in checks:
        if hit:
            return f"{label} address {ip}"
    return None


def check_url(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> str:
    """Return the URL (stripped) when the browser may open it; raise UrlRejected otherwise."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise UrlRejected(f"URL must be 1 to {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise UrlRejected("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRejected(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRejected("only http and https URLs are allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlRejected("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("URLs with credentials are not allowed")
    if port == 0:
        raise UrlRejected("port 0 is not allowed")
    if allow_private:
        return url
    if host in _BLOCKED_HOSTNAMES or host.endswith((".localhost", ".internal", ".local")):
        raise UrlRejected(f"host {host} is internal")
    try:
        literal: str | None = str(ipaddress.ip_address(host))
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[str] = [literal]
    else:
        try:
            addresses = list(resolve(host))
        except (OSError, UnicodeError):
            raise UrlRejected(f"host {host} cannot be resolved") from None
        if not addresses:
            raise UrlRejected(f"host {host} cannot be resolved")
    for address in addresses:
        try:
            problem = address_problem(address)
        except ValueError:
            problem = f"unparseable address {address!r}"
        if problem:
            raise UrlRejected(f"host {host} resolves to a {problem}")
    return url


async def check_url_async(url: str, *, allow_private: bool) -> str:
    """check_url with the blocking DNS lookup off the event loop."""
    return await asyncio.to_thread(check_url, url, allow_private=allow_private)
