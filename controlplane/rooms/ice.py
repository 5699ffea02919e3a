"""ICE servers for viewers and agents, with short-lived TURN REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from controlplane.rooms.turn_urls import turn_urls
from controlplane.settings import Settings


def turn_credentials(*, secret: str, user: str, expiry: int) -> tuple[str, str]:
    """The TURN REST scheme coturn checks with `static-auth-secret`.

    username = "<expiry unix time>:<user>", credential = base64(HMAC-SHA1(secret, username)).
    """
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, *, user: str, now: float) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(
            secret=settings.TURN_SECRET, user=user, expiry=int(now) + settings.TURN_TTL_SECONDS
        )
        servers.append(
            {
                "urls": turn_urls(
                    settings.TURN_URLS, tcp=settings.TURN_TCP, tls_port=settings.TURN_TLS_PORT
                ),
                "username": username,
                "credential": credential,
            }
        )
    return servers
