"""The `watchparty` console script, run as a user would."""

from __future__ import annotations

import httpx

from tests.support.cli import cli
from tests.support.servers import run_server


def test_migrate_createsuperuser_and_serve(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data")}
    done = cli("migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "watchparty.db").exists()

    made = cli(
        "createsuperuser",
        "--email",
        "root@example.com",
        "--username",
        "root",
        "--password",
        "Very-Strong-Admin-Pass-1",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert "created" in made.stdout
    weak = cli(
        "createsuperuser",
        "--email",
        "r2@example.com",
        "--username",
        "root2",
        "--password",
        "x",
        env=env,
    )
    assert weak.returncode == 1 and "at least" in weak.stderr

    with run_server(env, log_dir=tmp_path) as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        tokens = httpx.post(
            f"{server.url}/api/auth/login",
            data={"username": "root", "password": "Very-Strong-Admin-Pass-1"},
        ).json()
        me = httpx.get(
            f"{server.url}/api/users/me",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert me.json()["is_superuser"] is True


def test_production_with_default_secrets_refuses_to_serve(tmp_path):
    done = cli(
        "serve", "--no-migrate", env={"ENVIRONMENT": "production", "DATA_DIR": str(tmp_path)}
    )
    assert done.returncode != 0
    assert "SECRET_KEY" in (done.stderr + done.stdout)


def test_doctor_reports_parts_and_mode(tmp_path):
    done = cli("doctor", env={"DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    for part in (
        "Docker engine",
        "Xvfb",
        "Chromium",
        "PulseAudio",
        "Redis server",
        "PostgreSQL server",
    ):
        assert part in done.stdout
    assert "mode: database=sqlite bus=in-process runtime=local" in done.stdout
    # Whether local rooms' Chromium gets the room's managed policy, said either way.
    assert "local rooms' browser policy: " in done.stdout


def test_serve_with_agent_port_0_listens_on_a_free_port_and_agents_dial_it(tmp_path):
    """`--agent-port 0`: a free port, which AGENT_CONTROL_URL names (the log says which) and
    where only the agent channel answers; the same port as --port is refused."""
    import asyncio
    import json
    import re

    import websockets

    env = {"DATA_DIR": str(tmp_path / "data"), "AGENT_PORT": "0"}
    assert cli("migrate", env=env).returncode == 0
    with run_server(env, log_dir=tmp_path) as server:
        found = re.search(r"agent_control_url=ws://127\.0\.0\.1:(\d+)", server.log())
        assert found, server.log()
        agent_port = int(found.group(1))
        assert agent_port not in (0, server.port)
        assert httpx.get(f"http://127.0.0.1:{agent_port}/healthz").status_code == 404

        async def auth_with_a_wrong_secret() -> int | None:
            url = f"ws://127.0.0.1:{agent_port}/internal/agents/ws"
            async with websockets.connect(url) as ws:
                auth = {"room_id": "00000000-0000-0000-0000-000000000000", "secret": "x"}
                await ws.send(json.dumps({"type": "auth", "data": auth}))
                await ws.wait_closed()
                return ws.close_code

        assert asyncio.run(auth_with_a_wrong_secret()) == 4401
    same = cli("serve", "--no-migrate", "--port", "8123", "--agent-port", "8123", env=env)
    assert same.returncode != 0 and "port of its own" in same.stderr
