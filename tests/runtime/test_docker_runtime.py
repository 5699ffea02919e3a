"""The Docker runtime against a real engine and the real browser image.

Rooms run on a test network (`wp-test-rooms`, bridge `wp-test0`, 10.214.7.0/24) with its own
firewall chains, so a development deployment on the default network is not touched. Egress is
proved from inside a room container with `docker exec` + python3 socket probes:

* the host (Redis, PostgreSQL, a decoy port open on 0.0.0.0) on every address it has, a
  neighbour container, a private test host and 169.254.169.254 are refused by our chains
  (EHOSTUNREACH from `icmp-admin-prohibited`, not ECONNREFUSED from a closed port);
* the control-plane stand-in on the gateway port is reachable;
* a "public" test host (198.51.100.10 in a network namespace routed via this machine) is
  reachable, NAT and all: the rules leave public destinations open.

A container on Docker's default bridge (no rules of ours) reaches the decoy port, the private
test host and the public one: the probes measure the firewall, not the setup. Nothing is sent
to a real external address.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container

from controlplane.runtime import naming
from controlplane.runtime.base import RuntimeUnavailable
from controlplane.runtime.docker import DockerRuntime, parse_ref
from controlplane.runtime.docker_firewall import Firewall, forward_chain, input_chain
from controlplane.settings import Settings
from controlplane.wiring import make_runtime
from tests.support.backends import make_settings
from tests.support.docker_image import dump_container, failed, http_probe
from tests.support.netns import NetnsHost, netns_host
from tests.support.smtp import free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

NETWORK = "wp-test-rooms"
BRIDGE = "wp-test0"
SUBNET = "10.214.7.0/24"
GATEWAY = "10.214.7.1"
PUBLIC_HOST = "198.51.100.10"  # TEST-NET-2, only in our namespace
PRIVATE_HOST = "10.99.77.10"  # a "private network" machine, only in our namespace

# One target after the other: the kernel rate-limits the ICMP errors REJECT sends (a burst of
# about six per peer, then one per second), and a SYN retransmitted within the timeout gets its
# answer once the bucket refills.
PROBE = r"""
import errno, json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(6)
    try:
        s.connect((host, int(port)))
        out[target] = "open:" + s.recv(64).decode(errors="replace").strip()
    except socket.timeout:
        out[target] = "timeout"
    except OSError as e:
        out[target] = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
print(json.dumps(out))
"""

# The command line of the room's Chromium (its browser process: no --type=).
CHROMIUM_ARGS = r"""
import json, os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")
    except OSError:
        continue
    if "chromium" in args[0] and not any(a.startswith("--type=") for a in args):
        print(json.dumps(args))
        break
"""

StartRoom = Callable[..., Awaitable[tuple[str, Container]]]


def need_root_and_iptables() -> None:
    if os.geteuid() != 0 or shutil.which("iptables") is None or shutil.which("ip") is None:
        pytest.skip("needs root, iptables and iproute2 (the egress firewall is host rules)")


class Greeter:
    """A TCP listener on 0.0.0.0 that greets and closes: a service on the host."""

    def __init__(self, greeting: str) -> None:
        self.port = free_port()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("0.0.0.0", self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.5)
        self._greeting = greeting.encode() + b"\n"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(self._greeting)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def host_addresses() -> list[str]:
    """Every IPv4 address of this machine except loopback."""
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    addresses = [line.split()[3].split("/")[0] for line in out.splitlines()]
    return [a for a in addresses if not a.startswith("127.")]


def probe(container: Container, *targets: str) -> dict[str, str]:
    result = container.exec_run(["python3", "-c", PROBE, *targets])
    output = (result.output or b"").decode(errors="replace")
    assert result.exit_code == 0, output
    return dict(json.loads(output.strip().splitlines()[-1]))


def remove_test_rooms(client: DockerClient) -> None:
    for container in client.containers.list(all=True, filters={"network": NETWORK}):
        container.remove(force=True)
    for container in client.containers.list(
        all=True, filters={"label": "org.watchparty.test=docker-runtime"}
    ):
        container.remove(force=True)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def control_plane() -> Iterator[Greeter]:
    """Stands in for the API's agent endpoint (the only host port rooms may reach)."""
    greeter = Greeter("control-plane")
    yield greeter
    greeter.close()


@pytest.fixture(scope="session")
def decoy() -> Iterator[Greeter]:
    """Another service on the host, listening on every address (0.0.0.0)."""
    greeter = Greeter("decoy")
    yield greeter
    greeter.close()


@pytest.fixture(scope="session")
def docker_settings(browser_image: str, control_plane: Greeter) -> Settings:
    return make_settings(
        ROOM_RUNTIME="docker",
        ROOM_IMAGE=browser_image,
        DOCKER_NETWORK=NETWORK,
        DOCKER_BRIDGE_NAME=BRIDGE,
        DOCKER_SUBNET=SUBNET,
        AGENT_CONTROL_URL=f"ws://127.0.0.1:{control_plane.port}",  # -> the gateway, for rooms
    )


@pytest.fixture(scope="session")
def rooms_network(docker_client: DockerClient, docker_settings: Settings) -> Iterator[None]:
    """Removes the test network, its containers and its firewall chains before and after."""
    need_root_and_iptables()

    def clean() -> None:
        remove_test_rooms(docker_client)
        for network in docker_client.networks.list(names=[NETWORK]):
            if network.name == NETWORK:
                network.remove()
        Firewall(docker_settings).remove()

    clean()
    yield
    clean()


@pytest.fixture
async def runtime(docker_settings: Settings, rooms_network: None) -> AsyncIterator[DockerRuntime]:
    rt = make_runtime(docker_settings)
    assert isinstance(rt, DockerRuntime)
    yield rt
    await rt.aclose()


@pytest.fixture
async def start_room(
    runtime: DockerRuntime, docker_client: DockerClient, request: pytest.FixtureRequest
) -> AsyncIterator[StartRoom]:
    """Starts rooms through the runtime; dumps their logs if the test failed; removes them."""
    refs: list[str] = []

    async def start(room_id: uuid.UUID | None = None, code: str = "TEST42") -> tuple[str, Any]:
        ref = await runtime.start(
            room_id=room_id or uuid.uuid4(),
            room_code=code,
            agent_secret="agent-secret-for-tests",
            start_url="about:blank",
        )
        refs.append(ref)
        container_id = parse_ref(ref)
        assert container_id
        return ref, docker_client.containers.get(container_id)

    yield start
    for ref in refs:
        container_id = parse_ref(ref)
        try:
            container = docker_client.containers.get(container_id)
        except NotFound:
            continue
        if failed(request):
            print(dump_container(container))
        container.remove(force=True)


@pytest.fixture
def plain_container(
    docker_client: DockerClient, browser_image: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Container]]:
    """Containers from the image that only run a given command (neighbours, controls)."""
    started: list[Container] = []

    def run(*command: str, labels: dict[str, str] | None = None, **kwargs: Any) -> Container:
        container = docker_client.containers.run(
            browser_image,
            list(command),
            detach=True,
            labels={"org.watchparty.test": "docker-runtime", **(labels or {})},
            read_only=True,
            tmpfs={"/tmp": ""},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            **kwargs,
        )
        started.append(container)
        return container

    yield run
    for container in started:
        if failed(request):
            print(dump_container(container))
        try:
            container.remove(force=True)
        except NotFound:
            pass


@pytest.fixture(scope="session")
def test_hosts(rooms_network: None) -> Iterator[NetnsHost]:
    """A public-looking and a private host, both in a namespace routed via this machine."""
    with netns_host(
        name="wptest-hosts",
        link_net="203.0.113.",
        addresses=(PUBLIC_HOST, PRIVATE_HOST),
        port=8080,
        greeting="test-host",
    ) as host:
        yield host


async def wait_state(
    runtime: DockerRuntime, ref: str, wanted: set[str], within: float = 120
) -> tuple[str, float]:
    started = time.monotonic()
    state = "?"
    while time.monotonic() - started < within:
        state = (await runtime.status(runtime_ref=ref)).state
        if state in wanted:
            break
        await asyncio.sleep(0.5)
    return state, time.monotonic() - started


# --- tests ------------------------------------------------------------------------------------


async def test_start_runs_a_hardened_labelled_container_that_becomes_healthy(
    runtime: DockerRuntime, start_room: StartRoom, docker_settings: Settings
) -> None:
    room_id = uuid.uuid4()
    begun = time.monotonic()
    ref, container = await start_room(room_id, "AB2CD3")
    start_seconds = time.monotonic() - begun

    attrs = container.attrs
    host, config = attrs["HostConfig"], attrs["Config"]
    assert host["CapDrop"] == ["ALL"]
    assert not host.get("CapAdd")
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert host["Tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=512m,mode=1777"}
    assert host["ShmSize"] == 1024 * 1024 * 1024
    assert host["Memory"] == host["MemorySwap"] == 2048 * 1024 * 1024
    assert host["NanoCpus"] == 2_000_000_000
    assert host["PidsLimit"] == 512
    assert host["IpcMode"] == "private"
    assert host["NetworkMode"] == NETWORK
    assert not host.get("Binds") and not host.get("Mounts") and attrs["Mounts"] == []
    assert host["Sysctls"]["net.ipv6.conf.all.disable_ipv6"] == "1"
    assert host["RestartPolicy"]["Name"] in {"no", ""}
    assert config["User"] == "1000:1000"
    assert container.name == naming.room_name(room_id, "AB2CD3")
    assert container.name.startswith("wp-room-ab2cd3-")
    assert container.labels["app.kubernetes.io/managed-by"] == "watchparty"
    assert container.labels["app.kubernetes.io/component"] == "room"
    assert container.labels["watchparty.io/room-id"] == str(room_id)
    assert container.labels["watchparty.io/room-code"] == "AB2CD3"
    assert container.labels["watchparty.io/deployment"] == docker_settings.deployment_id
    assert list(attrs["NetworkSettings"]["Networks"]) == [NETWORK]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["WP_CONTROL_URL"].startswith(f"ws://{GATEWAY}:")
    assert env["WP_ROOM_ID"] == str(room_id)
    assert env["WP_CHROMIUM_EXTRA_ARGS"] == '["--no-sandbox"]'  # the image's, kept

    # Inside: uid 1000, no capabilities, no_new_privs, read-only root, no Docker socket.
    check = container.exec_run(
        [
            "sh",
            "-c",
            "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/1/status; "
            "touch /probe 2>&1 || echo ro; ls /var/run/docker.sock /run/docker.sock 2>&1 || true",
        ]
    )
    out = check.output.decode()
    assert out.splitlines()[0] == "1000", out
    assert "CapEff:\t0000000000000000" in out and "CapBnd:\t0000000000000000" in out, out
    assert "NoNewPrivs:\t1" in out, out
    assert "Read-only file system" in out, out
    assert "docker.sock" in out and "No such file" in out, out

    state, healthy_after = await wait_state(runtime, ref, {"running", "failed"}, within=150)
    info = await runtime.status(runtime_ref=ref)
    assert state == "running", info
    assert info.room_id == room_id
    print(f"\ndocker room: start() {start_seconds:.2f} s, healthy {healthy_after:.1f} s later")


async def test_stop_removes_the_container_and_is_idempotent(
    runtime: DockerRuntime, start_room: StartRoom, docker_client: DockerClient
) -> None:
    ref, container = await start_room()
    await runtime.stop(runtime_ref=ref)
    with pytest.raises(NotFound):
        docker_client.containers.get(container.id)
    await runtime.stop(runtime_ref=ref)  # again: fine
    await runtime.stop(runtime_ref="docker:0123456789ab")  # never existed: fine
    await runtime.stop(runtime_ref="local:not-ours")  # another backend's ref: ignored
    assert (await runtime.status(runtime_ref=ref)).state == "missing"


async def test_list_managed_finds_rooms_by_label_only(
    runtime: DockerRuntime,
    start_room: StartRoom,
    plain_container: Callable[..., Container],
) -> None:
    room_id = uuid.uuid4()
    ref, _ = await start_room(room_id)
    # Named like a room but without our labels: not ours.
    impostor = plain_container("sleep", "60", name=f"wp-room-fake-{uuid.uuid4().hex[:8]}")
    managed = await runtime.list_managed()
    by_ref = {info.runtime_ref: info for info in managed}
    assert ref in by_ref and by_ref[ref].room_id == room_id
    assert all(impostor.id not in info.runtime_ref for info in managed)
    await runtime.stop(runtime_ref=ref)
    assert ref not in {info.runtime_ref for info in await runtime.list_managed()}


async def test_another_deployments_rooms_are_neither_listed_nor_swept(
    tmp_path: Path,
    docker_settings: Settings,
    plain_container: Callable[..., Container],
    docker_client: DockerClient,
) -> None:
    """Two deployments on one engine: each lists only containers labelled with its own
    deployment id, and a real orphan sweep (no live rooms in this deployment's database)
    removes this deployment's orphan but leaves the other deployment's room running."""
    from controlplane.reaper.sweep import sweep
    from controlplane.wiring import build_context
    from tests.support.backends import embedded_settings

    this, other = f"wp-test-this-{uuid.uuid4().hex[:6]}", f"wp-test-other-{uuid.uuid4().hex[:6]}"

    def room_container(deployment: str) -> Container:
        labels = naming.room_labels(uuid.uuid4(), "ORPH22", deployment=deployment)
        return plain_container("sleep", "300", labels=labels)

    ours, theirs = room_container(this), room_container(other)
    docker_options = {
        key: getattr(docker_settings, key)
        for key in ("ROOM_RUNTIME", "ROOM_IMAGE", "DOCKER_NETWORK", "DOCKER_BRIDGE_NAME")
    }
    settings = await embedded_settings(tmp_path, DEPLOYMENT_ID=this, **docker_options)
    ctx = build_context(settings)
    other_runtime = DockerRuntime(make_settings(DEPLOYMENT_ID=other, **docker_options))
    try:
        assert isinstance(ctx.runtime, DockerRuntime)
        mine = {info.runtime_ref for info in await ctx.runtime.list_managed()}
        assert f"docker:{ours.id}" in mine
        assert f"docker:{theirs.id}" not in mine
        seen_by_other = {info.runtime_ref for info in await other_runtime.list_managed()}
        assert f"docker:{theirs.id}" in seen_by_other
        assert f"docker:{ours.id}" not in seen_by_other

        report = await sweep(ctx=ctx)
        assert f"docker:{ours.id}" in report.orphans_removed
        assert f"docker:{theirs.id}" not in report.orphans_removed
        with pytest.raises(NotFound):
            docker_client.containers.get(ours.id)
        theirs.reload()
        assert theirs.status == "running"
    finally:
        await other_runtime.aclose()
        await ctx.aclose()


async def test_a_killed_room_is_failed_with_exit_code_and_logs(
    runtime: DockerRuntime, start_room: StartRoom
) -> None:
    ref, container = await start_room()
    for _ in range(60):  # let the agent log something (bounded: 30 s)
        if await asyncio.to_thread(container.logs, tail=1):
            break
        await asyncio.sleep(0.5)
    container.kill()
    state, _ = await wait_state(runtime, ref, {"failed", "stopped"}, within=30)
    info = await runtime.status(runtime_ref=ref)
    assert state == "failed", info
    assert info.detail and "code 137" in info.detail, info
    # the container's output is kept for the operators' log, not in the reason members see
    assert info.logs and "last log lines" in info.logs and "last log lines" not in info.detail
    assert ref in {i.runtime_ref for i in await runtime.list_managed() if i.state == "failed"}


async def test_starting_a_room_again_replaces_its_leftover(
    runtime: DockerRuntime, start_room: StartRoom, docker_client: DockerClient
) -> None:
    room_id = uuid.uuid4()
    first_ref, first = await start_room(room_id, "SAME22")
    second_ref, second = await start_room(room_id, "SAME22")
    assert first_ref != second_ref and first.name == second.name
    with pytest.raises(NotFound):
        docker_client.containers.get(first.id)
    assert (await runtime.status(runtime_ref=second_ref)).state in {"starting", "running"}


async def test_egress_from_inside_a_room(
    runtime: DockerRuntime,
    start_room: StartRoom,
    plain_container: Callable[..., Container],
    control_plane: Greeter,
    decoy: Greeter,
    test_hosts: NetnsHost,
) -> None:
    _, room = await start_room()
    neighbour = plain_container(
        "python3", "-m", "http.server", "--bind", "0.0.0.0", "8080", network=NETWORK
    )
    neighbour.reload()
    neighbour_ip = neighbour.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]

    blocked = [f"{host}:{port}" for host in host_addresses() for port in (6379, 5432, decoy.port)]
    blocked += [
        f"{host}:{control_plane.port}" for host in host_addresses() if host != GATEWAY
    ]  # the agent endpoint is allowed at the gateway only
    blocked += [
        "169.254.169.254:80",
        f"{PRIVATE_HOST}:{test_hosts.port}",
        f"{neighbour_ip}:8080",
    ]
    allowed = {
        f"{GATEWAY}:{control_plane.port}": "open:control-plane",
        f"{PUBLIC_HOST}:{test_hosts.port}": "open:test-host",
    }
    assert f"{GATEWAY}:6379" in blocked and f"{GATEWAY}:5432" in blocked
    results = probe(room, *blocked, *allowed)
    for target in blocked:
        assert results[target] == "EHOSTUNREACH", (target, results)
    for target, expected in allowed.items():
        assert results[target] == expected, (target, results)

    # Control: without our rules (Docker's default bridge) the same probes get through.
    control = plain_container("sleep", "120")
    results = probe(
        control,
        f"172.17.0.1:{decoy.port}",
        f"{GATEWAY}:{decoy.port}",
        f"{PRIVATE_HOST}:{test_hosts.port}",
        f"{PUBLIC_HOST}:{test_hosts.port}",
    )
    assert results == {
        f"172.17.0.1:{decoy.port}": "open:decoy",
        f"{GATEWAY}:{decoy.port}": "open:decoy",
        f"{PRIVATE_HOST}:{test_hosts.port}": "open:test-host",
        f"{PUBLIC_HOST}:{test_hosts.port}": "open:test-host",
    }


async def test_firewall_is_idempotent_and_restored_when_removed(
    runtime: DockerRuntime, docker_settings: Settings
) -> None:
    def chains() -> str:
        return "".join(
            subprocess.run(
                ["iptables", "-w", "-S", chain], capture_output=True, text=True, check=True
            ).stdout
            for chain in (forward_chain(docker_settings), input_chain(docker_settings))
        )

    def jumps() -> list[str]:
        rules = subprocess.run(
            ["iptables", "-w", "-S"], capture_output=True, text=True, check=True
        ).stdout
        return [line for line in rules.splitlines() if f"-i {BRIDGE} -j WP-" in line]

    await runtime.prepare()
    first = chains()
    await runtime.prepare()
    Firewall(docker_settings).apply()
    assert chains() == first
    assert sorted(jumps()) == sorted(
        [
            f"-A DOCKER-USER -i {BRIDGE} -j {forward_chain(docker_settings)}",
            f"-A INPUT -i {BRIDGE} -j {input_chain(docker_settings)}",
        ]
    )
    # Someone flushes our hook into INPUT: the next start (prepare) puts it back.
    unhook = ["iptables", "-w", "-D", "INPUT", "-i", BRIDGE, "-j", input_chain(docker_settings)]
    await asyncio.to_thread(subprocess.run, unhook, check=True)
    assert not Firewall(docker_settings).installed()
    await runtime.prepare()
    assert Firewall(docker_settings).installed() and chains() == first


async def test_missing_image_and_unappliable_firewall_fail_with_a_reason(
    docker_settings: Settings, rooms_network: None
) -> None:
    no_image = DockerRuntime(
        docker_settings.model_copy(update={"ROOM_IMAGE": "watchparty/browser:does-not-exist"})
    )
    with pytest.raises(RuntimeUnavailable, match="not on the Docker host"):
        await no_image.start(
            room_id=uuid.uuid4(), room_code="NOIMG2", agent_secret="x", start_url=None
        )
    await no_image.aclose()
    no_iptables = DockerRuntime(
        docker_settings.model_copy(
            update={
                "DOCKER_IPTABLES": "/nonexistent/iptables",
                "DOCKER_NETWORK": "wp-test-never",
                "DOCKER_BRIDGE_NAME": "wp-never0",
            }
        )
    )
    with pytest.raises(RuntimeUnavailable, match="DOCKER_EGRESS_FIREWALL=false"):
        await no_iptables.start(
            room_id=uuid.uuid4(), room_code="NOFW22", agent_secret="x", start_url=None
        )
    await no_iptables.aclose()


async def api_settings(browser_image: str, **extra: Any) -> Any:
    from tests.support.backends import pg_redis_settings

    return await pg_redis_settings(
        ROOM_RUNTIME="docker",
        ROOM_IMAGE=browser_image,
        DOCKER_NETWORK=NETWORK,
        DOCKER_BRIDGE_NAME=BRIDGE,
        DOCKER_SUBNET=SUBNET,
        REAPER_INTERVAL_SECONDS=3600,
        **extra,
    )


async def test_docker_room_end_to_end(
    browser_image: str, rooms_network: None, docker_client: DockerClient
):
    """POST /api/rooms with ROOM_RUNTIME=docker: a hardened container starts, its agent dials the
    API through the firewall, the room is ready, a real aiortc viewer decodes frames; end removes
    the container."""
    from tests.support.rooms import create_room, live_server, room_socket
    from tests.support.users import signed_in
    from tests.support.viewer import HubViewer

    port = free_port()
    settings = await api_settings(browser_image)
    # Listen where the rooms' bridge can reach (the firewall admits only this port there).
    async with live_server(settings, runtime=False, port=port, host="0.0.0.0") as live:
        host = await signed_in(live.http)
        started = time.monotonic()
        room = await create_room(live.http, host.headers)
        assert room["status"] == "starting", room
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        containers = docker_client.containers.list(
            all=True, filters={"label": f"{naming.ROOM_ID_KEY}={room['id']}"}
        )
        assert len(containers) == 1
        try:
            if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
                await sock.expect("room.status", status="ready", within=120)
            ready_s = time.monotonic() - started
            viewer = HubViewer(
                sock, ice_servers=sock.of_type("room.state")[-1]["data"]["ice_servers"]
            )
            await viewer.connect(within=60)
            await viewer.wait_frames(20, within=60)
            assert {(w, h) for _, w, h in viewer.frames} == {(1280, 720)}
            await viewer.close()
        except BaseException:
            print(dump_container(containers[0]))
            raise
        resp = await live.http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
        assert resp.status_code == 200
        assert (
            docker_client.containers.list(
                all=True, filters={"label": f"{naming.ROOM_ID_KEY}={room['id']}"}
            )
            == []
        )
        print(f"docker room ready after {ready_s:.1f} s")


async def test_a_docker_room_reaches_the_agent_listener_and_nothing_else_of_the_api(
    browser_image: str, rooms_network: None, docker_client: DockerClient
):
    """Issue 11 item 10, from inside a real room: its agent dials the agent listener (the room
    becomes ready), which answers nothing of the API; the public listener (/metrics, /readyz,
    the docs, sign-in) is refused by the firewall; and the room's browser runs with the control
    plane's and the host's addresses blocked."""
    from tests.support.rooms import create_room, live_server, room_socket
    from tests.support.users import signed_in

    port = free_port()
    settings = await api_settings(browser_image)
    async with live_server(settings, runtime=False, port=port, host="0.0.0.0") as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        (container,) = docker_client.containers.list(
            all=True, filters={"label": f"{naming.ROOM_ID_KEY}={room['id']}"}
        )
        try:
            if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
                await sock.expect("room.status", status="ready", within=120)
            paths = ["/metrics", "/readyz", "/healthz", "/api/docs", "/api/auth/login"]
            public = [f"http://{GATEWAY}:{port}{path}" for path in paths]
            agent = [f"http://{GATEWAY}:{live.agent_port}{path}" for path in paths]
            # In a thread: the API answering the probes runs in this event loop.
            answers = await asyncio.to_thread(http_probe, container, *public, *agent)
            assert {answers[url] for url in public} == {"EHOSTUNREACH"}, answers
            assert {answers[url] for url in agent} == {404}, answers
            # ... and from this host, the public listener answers: the probes measure the rules.
            assert (await live.http.get("/readyz")).status_code == 200

            result = await asyncio.to_thread(container.exec_run, ["python3", "-c", CHROMIUM_ARGS])
            args = json.loads(result.output.decode().strip().splitlines()[-1])
            (rules,) = [a for a in args if a.startswith("--host-resolver-rules=")]
            assert f"MAP {GATEWAY} ~NOTFOUND" in rules, rules
        except BaseException:
            print(dump_container(container))
            raise
        finally:
            await live.http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
            await sock.close()


async def test_docker_warm_pool_room_is_live_at_once_and_refills(
    browser_image: str, rooms_network: None, docker_client: DockerClient
):
    """ROOM_WARM_POOL=1 on Docker: a warm container waits; POST /api/rooms hands it over already
    ready and a viewer decodes frames; a new warm container replaces it; end removes the room's."""
    from controlplane.rooms import warm_pool
    from tests.support.rooms import create_room, live_server, room_socket
    from tests.support.users import signed_in
    from tests.support.viewer import HubViewer

    def containers_of(room_id: str) -> list[Any]:
        return list(
            docker_client.containers.list(
                all=True, filters={"label": f"{naming.ROOM_ID_KEY}={room_id}"}
            )
        )

    async def pool_ready(ctx: Any) -> None:
        for _ in range(600):
            if (await warm_pool.size(ctx=ctx))["ready"] >= 1:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"warm pool never ready: {await warm_pool.size(ctx=ctx)}")

    port = free_port()
    settings = await api_settings(browser_image, ROOM_WARM_POOL=1)
    async with live_server(settings, runtime=False, port=port, host="0.0.0.0") as live:
        ctx = live.app.state.ctx
        try:
            await pool_ready(ctx)
            host = await signed_in(live.http)
            started = time.monotonic()
            room = await create_room(live.http, host.headers)
            assert room["status"] == "ready", room  # a warm container, handed over
            assert len(containers_of(room["id"])) == 1
            sock = await room_socket(live.ws_url, room["code"], host.access_token)
            state = sock.of_type("room.state")[-1]["data"]
            viewer = HubViewer(sock, ice_servers=state["ice_servers"])
            await viewer.connect(within=30)
            await viewer.wait_frames(10, within=30)
            first_frames_s = time.monotonic() - started
            await viewer.close()
            await pool_ready(ctx)  # a new warm container, not the room's
            managed = {info.room_id for info in await ctx.runtime.list_managed()}
            assert len(managed) == 2 and uuid.UUID(room["id"]) in managed
            resp = await live.http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
            assert resp.status_code == 200
            assert containers_of(room["id"]) == []
            await sock.close()
            print(f"docker warm room: 10 frames decoded {first_frames_s:.2f} s after create")
        except BaseException:
            for info in await ctx.runtime.list_managed():
                for c in containers_of(str(info.room_id)):
                    print(dump_container(c))
            raise
        finally:
            for info in await ctx.runtime.list_managed():
                await ctx.runtime.stop(runtime_ref=info.runtime_ref)
