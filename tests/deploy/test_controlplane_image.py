"""The control-plane image (Dockerfile, controlplane-image/build.sh) on the real engine: it builds,
runs non-root, migrates the test PostgreSQL, serves /readyz 200 against the test PostgreSQL and
Redis, turns healthy by its HEALTHCHECK, and with the Docker socket mounted starts a room container
that reaches ready. A second build from a copy of the context with a stand-in web app proves the
image picks up frontend/ by itself."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controlplane.runtime import naming
from controlplane.runtime.docker_firewall import Firewall
from controlplane.settings import Settings
from tests.support.backends import PG_URL, REDIS_URL, TEST_SECRET
from tests.support.deploy import run_script
from tests.support.docker_image import REPO, DockerClient, dump_container
from tests.support.smtp import free_port

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(900)]

DEPLOYMENT = "wp-test-cpimg"
ROOMS = {
    "DOCKER_NETWORK": "wp-test-cpimg-rooms",
    "DOCKER_BRIDGE_NAME": "wp-tcpi0",
    "DOCKER_SUBNET": "10.215.0.0/22",
}


def run_image(client: DockerClient, image: str, *command: str, **kwargs: Any) -> str:
    """Run to completion; returns the output (fails the test on a non-zero exit)."""
    container = client.containers.run(image, list(command), detach=True, **kwargs)
    try:
        code = container.wait(timeout=300)["StatusCode"]
        out = container.logs().decode(errors="replace")
        assert code == 0, f"{command} exited {code}:\n{out}"
        return out
    finally:
        container.remove(force=True)


def test_image_runs_non_root_with_the_cli_and_a_healthcheck(
    docker_client: DockerClient, controlplane_image: str
):
    config = docker_client.images.get(controlplane_image).attrs["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"][-1] == "/usr/local/bin/watchparty"
    assert "/healthz" in Path(REPO / "controlplane-image" / "healthcheck.py").read_text()
    assert config["Healthcheck"]["Test"][0] == "CMD"
    help_text = run_image(docker_client, controlplane_image, "--help")
    for command in ("serve", "worker", "beat", "migrate", "firewall"):
        assert command in help_text


@pytest.fixture
def api_env() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("the room firewall and the rooms network need root")
    port, agent_port = free_port(), free_port()
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": PG_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": TEST_SECRET,
        "AGENT_SECRET_KEY": TEST_SECRET,
        "PROFILE_SECRET_KEY": TEST_SECRET,
        "ROOM_RUNTIME": "docker",
        "DEPLOYMENT_ID": DEPLOYMENT,
        # The agent listener; rooms get the bridge gateway as its host.
        "AGENT_PORT": str(agent_port),
        "AGENT_CONTROL_URL": f"ws://127.0.0.1:{agent_port}",
        "REAPER_INTERVAL_SECONDS": "3600",
        "WP_TEST_PORT": str(port),
        **ROOMS,
    }
    yield env
    settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})
    Firewall(settings).remove()


async def test_image_migrates_serves_and_starts_a_room(
    docker_client: DockerClient,
    controlplane_image: str,
    browser_image: str,
    api_env: dict[str, str],
):
    from tests.support.rooms import create_room, room_socket
    from tests.support.users import signed_in

    port = int(api_env.pop("WP_TEST_PORT"))
    env = {**api_env, "ROOM_IMAGE": browser_image}
    host_net: dict[str, Any] = {"network_mode": "host", "environment": env}
    assert "schema at head (postgresql)" in run_image(
        docker_client, controlplane_image, "migrate", **host_net
    )
    # What the compose stack's room-firewall service does: root with NET_ADMIN only.
    firewall = run_image(
        docker_client,
        controlplane_image,
        "firewall",
        user="0:0",
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN", "NET_RAW"],
        **host_net,
    )
    assert "room egress firewall applied" in firewall
    api = docker_client.containers.run(
        controlplane_image,
        ["serve", "--host", "0.0.0.0", "--port", str(port), "--no-migrate"],
        detach=True,
        read_only=True,
        tmpfs={"/tmp": ""},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        group_add=[str(os.stat("/var/run/docker.sock").st_gid)],
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        network_mode="host",
        environment={
            **env,
            "DOCKER_EGRESS_FIREWALL": "false",  # applied above, as in the compose stack
            "WP_HEALTH_URL": f"http://127.0.0.1:{port}/healthz",
        },
    )
    label = {"label": f"{naming.DEPLOYMENT_KEY}={DEPLOYMENT}"}
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(60):
                try:
                    ready = await http.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(1)
            assert ready.status_code == 200, dump_container(api)
            assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
            host = await signed_in(http)
            room = await create_room(http, host.headers)
            sock = await room_socket(f"ws://127.0.0.1:{port}", room["code"], host.access_token)
            if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
                await sock.expect("room.status", status="ready", within=120)
            assert len(docker_client.containers.list(all=True, filters=label)) == 1
            resp = await http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
            assert resp.status_code == 200
            await sock.close()
            assert docker_client.containers.list(all=True, filters=label) == []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            api.reload()
            if api.attrs["State"].get("Health", {}).get("Status") == "healthy":
                break
            await asyncio.sleep(2)
        assert api.attrs["State"]["Health"]["Status"] == "healthy", dump_container(api)
    except BaseException:
        print(dump_container(api))
        raise
    finally:
        api.remove(force=True)
        for leftover in docker_client.containers.list(all=True, filters=label):
            leftover.remove(force=True)
        for network in docker_client.networks.list(names=[ROOMS["DOCKER_NETWORK"]]):
            network.remove()


FAKE_WEB = {
    "package.json": json.dumps(
        {
            "name": "fake-web",
            "version": "0.0.0",
            "private": True,
            "scripts": {"build": "node build.mjs"},
        }
    ),
    "package-lock.json": json.dumps(
        {
            "name": "fake-web",
            "version": "0.0.0",
            "lockfileVersion": 3,
            "requires": True,
            "packages": {"": {"name": "fake-web", "version": "0.0.0"}},
        }
    ),
    "build.mjs": (
        "import { mkdirSync, writeFileSync } from 'node:fs';\n"
        "mkdirSync('dist', { recursive: true });\n"
        "writeFileSync('dist/index.html', `<p>web app built by node ${process.version}</p>`);\n"
    ),
}
CONTEXT = [
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "scripts/requirements.py",
    "alembic.ini",
    "migrations",
    "wire/watchparty_wire",
    "controlplane",
    "controlplane-image",
    "scripts/image-lib.sh",
]


def test_image_carries_the_web_app_once_frontend_exists(
    docker_client: DockerClient, controlplane_image: str, tmp_path: Path
):
    """No change to the Dockerfile or script: a frontend/ with package.json is built (npm ci,
    npm run build on Node >= 20.19) and its dist lands in WEB_DIR."""
    repo = tmp_path / "repo"
    for rel in CONTEXT:
        source, target = REPO / rel, repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    (repo / "frontend").mkdir()
    for name, text in FAKE_WEB.items():
        (repo / "frontend" / name).write_text(text)
    tag = "wp-test/controlplane:web"
    run_script(repo / "controlplane-image" / "build.sh", {"WP_CONTROLPLANE_IMAGE": tag})
    try:
        out = run_image(docker_client, tag, "-c", 'cat "$WEB_DIR/index.html"', entrypoint="sh")
        assert "web app built by node v2" in out
        version = out.split("node v", 1)[1].split("<", 1)[0]
        major, minor = (int(part) for part in version.split(".")[:2])
        assert (major, minor) >= (20, 19), version
    finally:
        docker_client.images.remove(tag, force=True)
