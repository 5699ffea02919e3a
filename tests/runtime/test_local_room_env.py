"""A local room's processes get only what the agent needs from the API's environment (issue 11
#9): read from the environ of a real room agent process the local runtime started."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psutil
import pytest

from controlplane.runtime.local import ROOM_ENV, LocalRuntime
from tests.support.backends import make_settings
from tests.support.smtp import free_port

pytestmark = pytest.mark.x11

LEAKS = {
    "SECRET_KEY": "api-secret-key-not-for-rooms",
    "AGENT_SECRET_KEY": "agent-master-key-not-for-rooms",
    "PROFILE_SECRET_KEY": "profile-master-key-not-for-rooms",
    "DATABASE_URL": "postgresql+asyncpg://wp:db-password@db/wp",
    "REDIS_URL": "redis://:redis-password@redis:6379/0",
    "SMTP_PASSWORD": "smtp-password",
    "WP_TEST_DATABASE_URL": "postgresql+asyncpg://wp:test-password@db/wp_test",
    "AWS_SECRET_ACCESS_KEY": "cloud-secret",
}


def _agent_of(room_id: uuid.UUID, within: float = 10) -> psutil.Process:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(ROOM_ENV) == str(room_id):
                    return proc
            except (psutil.Error, OSError):
                continue
        time.sleep(0.1)
    raise AssertionError("no room process found")


async def test_a_local_room_process_gets_only_what_the_agent_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name, value in LEAKS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    settings = make_settings(
        DATA_DIR=str(tmp_path),
        ROOM_RUNTIME="local",
        AGENT_CONTROL_URL=f"ws://127.0.0.1:{free_port()}",  # nobody listens: it only retries
    )
    runtime = LocalRuntime(settings)
    room_id = uuid.uuid4()
    ref = await runtime.start(
        room_id=room_id, room_code="envcheck", agent_secret="per-room-secret", start_url=None
    )
    try:
        env = _agent_of(room_id).environ()
    finally:
        await runtime.stop(runtime_ref=ref)
    leaked = {k for k, v in env.items() if k in LEAKS or v in LEAKS.values()}
    assert not leaked, sorted(leaked)
    assert env["WP_ROOM_ID"] == str(room_id)
    assert env["WP_AGENT_SECRET"] == "per-room-secret"
    assert env["PATH"] and env["LC_ALL"] == "C.UTF-8"
    # beyond the agent's settings and the labels, only the inherited basics
    extra = {k for k in env if not k.startswith(("WP_", "WATCHPARTY_", "LC_"))}
    assert extra <= {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }, sorted(extra)
