"""Password reset end to end: a real SMTP sink receives the e-mail, its link resets the password.

Embedded mode sends from the API process; PostgreSQL + Redis mode sends through a real Celery
worker process with Redis as broker.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.apps import client_for
from tests.support.backends import base_env
from tests.support.smtp import smtp_sink
from tests.support.users import PASSWORD, login, register


@contextmanager
def celery_worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli", "worker", "--concurrency", "1"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_reset_link_arrives_by_email_and_works_once(settings_factory, backend):
    with smtp_sink() as (inbox, port):
        smtp = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_TLS": "none",
            "PUBLIC_URL": "https://party.example",
        }
        settings = await settings_factory(**smtp)
        worker_env = {
            k: str(v)
            for k, v in base_env(
                **smtp, DATABASE_URL=settings.DATABASE_URL or "", REDIS_URL=settings.REDIS_URL or ""
            ).items()
            if v
        }
        ctx = celery_worker(worker_env) if backend == "pg_redis" else _nothing()
        with ctx:
            async with client_for(settings) as client:
                user = await register(client, username="forgetful")
                old = await login(client, "forgetful")
                resp = await client.post("/api/auth/forgot-password", json={"email": user["email"]})
                assert resp.status_code == 202

                mail = await inbox.wait_for(user["email"], within=60)
                assert "Reset" in mail["Subject"]
                body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
                match = re.search(r"https://party\.example/reset-password\?token=(\S+)", body)
                assert match, body
                token = match.group(1)

                weak = await client.post(
                    "/api/auth/reset-password", json={"token": token, "password": "short"}
                )
                assert weak.status_code == 400 and weak.json()["code"] == "weak_password"

                new_password = "a-brand-new-secret-42"
                ok = await client.post(
                    "/api/auth/reset-password", json={"token": token, "password": new_password}
                )
                assert ok.status_code == 200, ok.text
                await login(client, "forgetful", new_password)
                bad = await client.post(
                    "/api/auth/login", data={"username": "forgetful", "password": PASSWORD}
                )
                assert bad.status_code == 401
                # The old session ended with the reset, and the token cannot be used twice.
                stale = await client.post(
                    "/api/auth/refresh", json={"refresh_token": old["refresh_token"]}
                )
                assert stale.status_code == 401
                again = await client.post(
                    "/api/auth/reset-password",
                    json={"token": token, "password": "yet-another-pass-77"},
                )
                assert again.status_code == 400 and again.json()["code"] == "invalid_reset_token"

                # No e-mail for an unknown address.
                count = len(inbox.messages)
                await client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})
                await client.post("/api/auth/forgot-password", json={"email": user["email"]})
                await inbox.wait_for(user["email"])
                await asyncio.sleep(1)
                assert all("ghost" not in (m["To"] or "") for m in inbox.messages[count:])


@contextmanager
def _nothing() -> Iterator[None]:
    yield None
