"""The `watchparty` console script, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.support.servers import run_server


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlplane.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


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
