"""Helpers to make accounts and sign in through the public API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

_counter = itertools.count()
PASSWORD = "correct-horse-battery-9"


@dataclass
class SignedIn:
    id: str
    email: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    client: httpx.AsyncClient, *, username: str | None = None, **extra: Any
) -> dict[str, Any]:
    n = next(_counter)
    username = username or f"user{n}"
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD, **extra}
    resp = await client.post("/api/auth/register", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def login(client: httpx.AsyncClient, ident: str, password: str = PASSWORD) -> dict[str, Any]:
    resp = await client.post("/api/auth/login", data={"username": ident, "password": password})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def signed_in(client: httpx.AsyncClient, *, username: str | None = None) -> SignedIn:
    user = await register(client, username=username)
    tokens = await login(client, user["username"])
    return SignedIn(
        id=user["id"],
        email=user["email"],
        username=user["username"],
        password=PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def make_superuser(database_url: str, user_id: str) -> None:
    """Promote an account to administrator (there is no API for it, by design)."""
    await _set_flags(database_url, user_id, is_superuser=True)


async def deactivate(database_url: str, user_id: str) -> None:
    """Disable an account as an administrator would (in the database: there is no API for it)."""
    await _set_flags(database_url, user_id, is_active=False)


async def _set_flags(database_url: str, user_id: str, **values: bool) -> None:
    import uuid

    from sqlalchemy import update

    from controlplane.db import make_engine
    from controlplane.models import User

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == uuid.UUID(user_id)).values(**values))
    await engine.dispose()
