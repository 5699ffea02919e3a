"""docker-compose.yml on the real engine: the whole stack from locally built images (the official
postgres/redis/coturn images replaced by Debian-package stand-ins, tests/deploy/standins), a user
registers and creates a room, the room container becomes ready, a relay-only aiortc viewer decodes
frames through the stack's coturn, the room ends, and `down` leaves no room container.

Runs as root (the stack's room-firewall service changes the host's iptables) on names of its own:
project, rooms network, bridge, subnet, ports and deployment id differ from every other test."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from controlplane.runtime import naming
from tests.support.deploy import CONTROLPLANE_IMAGE, compose_stack, write_env
from tests.support.docker_image import DockerClient, http_probe
from tests.support.smtp import free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

PROJECT = "wp-test-compose"
DEPLOYMENT = "wp-test-compose"
SECRET = "0123456789abcdef0123456789abcdef"
BRIDGE = "wp-tcmp0"


def host_address() -> str:
    """This machine's main IPv4 address (where coturn and the API are reached, as on a server).
    `ip route get` only consults the routing table; nothing is sent."""
    out = subprocess.run(
        ["ip", "-4", "-j", "route", "get", "192.0.2.200"], capture_output=True, text=True
    )
    routes = json.loads(out.stdout or "[]")
    if not routes or "prefsrc" not in routes[0]:
        pytest.skip(f"no IPv4 route: {out.stderr}")
    return str(routes[0]["prefsrc"])


def room_containers(client: DockerClient) -> list[object]:
    return client.containers.list(
        all=True, filters={"label": f"{naming.DEPLOYMENT_KEY}={DEPLOYMENT}"}
    )


def remove_firewall() -> None:
    """The room-firewall service's chains outlive the stack (as on a real host): remove them."""
    from controlplane.runtime.docker_firewall import Firewall
    from controlplane.settings import Settings

    Firewall(Settings(_env_file=None, DOCKER_BRIDGE_NAME=BRIDGE)).remove()  # type: ignore[call-arg]


@pytest.fixture
def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the stack's room-firewall changes the host's iptables: needs root")


async def test_compose_stack_serves_a_room_through_its_turn(
    need_root: None,
    tmp_path: Path,
    docker_client: DockerClient,
    browser_image: str,
    controlplane_image: str,
    standin_images: None,
    request: pytest.FixtureRequest,
):
    from tests.support.rooms import create_room, room_socket
    from tests.support.users import signed_in
    from tests.support.viewer import HubViewer

    http_port, turn_port = free_port(), free_port()
    turn_host = host_address()
    env_file = write_env(
        tmp_path / ".env",
        {
            "PUBLIC_URL": f"http://127.0.0.1:{http_port}",
            "POSTGRES_PASSWORD": SECRET,
            "REDIS_PASSWORD": SECRET,
            "SECRET_KEY": SECRET,
            "AGENT_SECRET_KEY": SECRET,
            "PROFILE_SECRET_KEY": SECRET,
            "TURN_SECRET": SECRET,
            # production refuses to start without SMTP (no e-mail is sent here)
            "SMTP_HOST": "127.0.0.1",
            "TURN_HOST": turn_host,
            "TURN_PORT": str(turn_port),
            "TURN_MIN_PORT": "49700",
            "TURN_MAX_PORT": "49799",
            "TURN_ALLOWED_PEER_RANGES": "10.214.2.0-10.214.3.255",  # ROOMS_IP_RANGE only
            "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
            "HTTP_PORT": str(http_port),
            "API_WORKERS": "1",
            "CONTROLPLANE_IMAGE": controlplane_image,
            "ROOM_IMAGE": browser_image,
            "DEPLOYMENT_ID": DEPLOYMENT,
            "DOCKER_NETWORK": "wp-test-compose-rooms",
            "DOCKER_BRIDGE_NAME": BRIDGE,
            "DOCKER_SUBNET": "10.214.0.0/22",
            "ROOMS_GATEWAY": "10.214.0.1",
            "ROOMS_IP_RANGE": "10.214.2.0/23",
            "API_ROOMS_IP": "10.214.0.2",
        },
    )
    assert CONTROLPLANE_IMAGE == controlplane_image
    base = f"http://127.0.0.1:{http_port}"
    started = time.monotonic()
    request.addfinalizer(remove_firewall)
    with compose_stack(PROJECT, env_file) as stack:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(120):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(1)
            assert (await http.get("/readyz")).json()["checks"] == {
                "database": "ok",
                "redis": "ok",
            }
            up_s = time.monotonic() - started
            host = await signed_in(http)
            room = await create_room(http, host.headers)
            sock = await room_socket(f"ws://127.0.0.1:{http_port}", room["code"], host.access_token)
            state = sock.of_type("room.state")[-1]["data"]
            if state["room"]["status"] != "ready":
                await sock.expect("room.status", status="ready", within=120)
            ready_s = time.monotonic() - started - up_s
            # From inside the room: the API's agent listener answers (404 to all but the agent
            # socket); its public port, on the rooms network and as published on the host, is
            # refused (issue 11 item 10).
            (room_container,) = room_containers(docker_client)
            paths = ["/readyz", "/metrics", "/api/docs", "/api/auth/login"]
            public = [f"http://10.214.0.2:8000{p}" for p in paths]
            public += [f"http://10.214.0.1:{http_port}{p}" for p in paths]
            agent = [f"http://10.214.0.2:8001{p}" for p in paths]
            answers = await asyncio.to_thread(http_probe, room_container, *public, *agent)
            assert {answers[url] for url in public} == {"EHOSTUNREACH"}, answers
            assert {answers[url] for url in agent} == {404}, answers
            ice = state["ice_servers"]
            turn = [s for s in ice if any(u.startswith("turn:") for u in s["urls"])]
            assert turn and turn[0]["urls"] == [
                f"turn:{turn_host}:{turn_port}?transport=udp",
                f"turn:{turn_host}:{turn_port}?transport=tcp",
            ]
            viewer = HubViewer(sock, ice_servers=ice, relay_only=True)
            await viewer.connect(within=60)
            await viewer.wait_frames(10, within=60)
            assert (viewer.selected_candidate_types() or ("?", "?"))[0] == "relay"
            await viewer.close()
            assert len(room_containers(docker_client)) == 1
            resp = await http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
            assert resp.status_code == 200, resp.text
            await sock.close()
        assert room_containers(docker_client) == []
        stack.run("down", "-v", timeout=300)
    assert room_containers(docker_client) == []
    leftovers = docker_client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
    )
    assert leftovers == []
    print(f"compose stack ready after {up_s:.1f} s, room ready {ready_s:.1f} s later")
