"""Access tokens: short-lived JWTs naming the user (`sub`) and the login session (`sid`) they
were issued for, so REST requests and room sockets can tell when its session was revoked
(`access.py` does the checking). Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt
from fastapi_users.jwt import decode_jwt, generate_jwt

AUDIENCE = ["watchparty:auth"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    # None for a token issued without one (before sessions were named in tokens).
    session_id: uuid.UUID | None
    expires_at: float  # seconds since the epoch


def issue(*, secret_key: str, user_id: uuid.UUID, session_id: uuid.UUID, lifetime_s: int) -> str:
    data = {"sub": str(user_id), "sid": str(session_id), "aud": AUDIENCE}
    return generate_jwt(data, secret_key, lifetime_s)


def read(*, secret_key: str, token: str) -> AccessClaims | None:
    """The claims of a well-signed, unexpired access token, else None."""
    try:
        data = decode_jwt(token, secret_key, AUDIENCE)
        user_id = uuid.UUID(str(data["sub"]))
        sid = data.get("sid")
        session_id = uuid.UUID(str(sid)) if sid is not None else None
        expires_at = float(data["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    return AccessClaims(user_id=user_id, session_id=session_id, expires_at=expires_at)
