"""An app and client for settings a test chose itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from controlplane.main import create_app
from controlplane.settings import Settings


@asynccontextmanager
async def client_for(
    settings: Settings, *, ip: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
