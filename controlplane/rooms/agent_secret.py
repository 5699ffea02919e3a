"""Per-room agent secrets: the room's browser authenticates with one; only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from controlplane.settings import Settings


def new_agent_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_agent_secret(settings: Settings, secret: str) -> str:
    return hmac.new(settings.AGENT_SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()


def verify_agent_secret(settings: Settings, secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    return hmac.compare_digest(hash_agent_secret(settings, secret), stored)
