"""Refresh tokens: pure functions, no storage.

A token is `<session id>.<generation>.<mac>`, the MAC keyed by the server secret over the session
id, its generation and a per-session nonce kept server-side. Each refresh bumps the generation, so
the previous token stops working; a correctly signed token of an older generation is proof that a
token was used twice, and the whole session is revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum


class TokenCheck(StrEnum):
    current = "current"
    reused = "reused"
    invalid = "invalid"


@dataclass(frozen=True)
class ParsedToken:
    session_id: uuid.UUID
    generation: int
    mac: str


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def _mac(*, secret_key: str, session_id: uuid.UUID, generation: int, nonce: str) -> str:
    msg = f"{session_id}.{generation}.{nonce}".encode()
    digest = hmac.new(secret_key.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(*, secret_key: str, session_id: uuid.UUID, generation: int, nonce: str) -> str:
    mac = _mac(secret_key=secret_key, session_id=session_id, generation=generation, nonce=nonce)
    return f"{session_id}.{generation}.{mac}"


def parse(token: str) -> ParsedToken | None:
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200:
        return None
    sid, gen, mac = parts
    try:
        session_id = uuid.UUID(sid)
        generation = int(gen)
    except ValueError:
        return None
    if generation < 0 or not mac:
        return None
    return ParsedToken(session_id=session_id, generation=generation, mac=mac)


def check(
    *, token: ParsedToken, secret_key: str, nonce: str, current_generation: int
) -> TokenCheck:
    expected = _mac(
        secret_key=secret_key, session_id=token.session_id, generation=token.generation, nonce=nonce
    )
    if not hmac.compare_digest(expected, token.mac):
        return TokenCheck.invalid
    if token.generation == current_generation:
        return TokenCheck.current
    if token.generation < current_generation:
        return TokenCheck.reused
    return TokenCheck.invalid
