"""Rooms as Docker containers: one hardened container per room from the browser image.

Every container joins one dedicated bridge network (DOCKER_NETWORK, bridge interface
DOCKER_BRIDGE_NAME, subnet DOCKER_SUBNET), created on first use, whose egress is fenced by the
iptables rules of `docker_firewall` (applied before the first room starts, re-applied if they
disappear). Containers carry the shared room labels (`naming.room_labels`, this deployment's id
included) and are found again only by them, so deployments sharing one engine never list or sweep
each other's rooms; a room's `runtime_ref` is `docker:<container id>`.

The docker SDK is blocking: every call runs in a worker thread (`asyncio.to_thread`), and the
client's HTTP timeout (DOCKER_API_TIMEOUT_SECONDS) bounds each one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import IPAMConfig, IPAMPool, LogConfig

from controlplane.runtime import naming
from controlplane.runtime.agent_env import agent_env
from controlplane.runtime.base import RuntimeInfo, RuntimeState, RuntimeUnavailable
from controlplane.runtime.docker_firewall import (
    Firewall,
    FirewallError,
    gateway_ip,
    room_control_url,
)
from controlplane.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

REF_PREFIX = "docker:"
UID_GID = "1000:1000"  # the image's unprivileged user (browser-image/Dockerfile)
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
NETWORK_COMPONENT = "room-network"
LOG_TAIL_LINES = 20
# A room's container is stopped with SIGTERM first: its agent saves the host's browser profile
# and stops its browser in this time, then it is removed (forced).
STOP_GRACE_SECONDS = 10
# Room containers have no IPv6 (the rooms network is IPv4-only and the firewall rejects IPv6).
SYSCTLS = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


# --- pure: the container's options and the mapping of its state -------------------------------


def container_options(
    settings: Settings,
    *,
    room_id: uuid.UUID,
    room_code: str,
    agent_secret: str,
    start_url: str | None,
) -> dict[str, Any]:
    """Keyword arguments for `containers.create`: image, name, labels, env and the hardening
    (non-root, no capabilities, no-new-privileges, read-only root with a
    /tmp tmpfs, sized /dev/shm, memory/CPU/pids limits, no mounts, no Docker socket)."""
    env = agent_env(
        settings=settings,
        room_id=room_id,
        agent_secret=agent_secret,
        start_url=start_url,
        control_url=room_control_url(settings),
        host_addresses=[gateway_ip(settings)],
    )
    name = naming.room_name(room_id, room_code)
    memory = f"{settings.ROOM_MEMORY_LIMIT_MB}m"
    options: dict[str, Any] = {
        "image": settings.ROOM_IMAGE,
        "name": name,
        "hostname": name,
        "labels": naming.room_labels(room_id, room_code, deployment=settings.deployment_id),
        "environment": env,
        "user": UID_GID,
        "network": settings.DOCKER_NETWORK,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={settings.ROOM_TMP_MB}m,mode=1777"},
        "shm_size": f"{settings.ROOM_SHM_MB}m",
        "ipc_mode": "private",
        "mem_limit": memory,
        "memswap_limit": memory,  # no swap on top
        "nano_cpus": round(settings.ROOM_CPU_LIMIT * 1_000_000_000),
        "pids_limit": settings.DOCKER_PIDS_LIMIT,
        "sysctls": dict(SYSCTLS),
        "privileged": False,
        "restart_policy": {"Name": "no"},  # the reaper decides about restarts, not Docker
        "log_config": LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"}),
        "detach": True,
    }
    if settings.DOCKER_DNS:
        options["dns"] = list(settings.DOCKER_DNS)
    if settings.DOCKER_OCI_RUNTIME:
        options["runtime"] = settings.DOCKER_OCI_RUNTIME
    return options


def map_state(state: dict[str, Any]) -> tuple[RuntimeState, str | None]:
    """A container's `State` (docker inspect) as a runtime state and a readable detail."""
    status = state.get("Status")
    health = state.get("Health") or {}
    if status in {"created", "restarting"}:
        return "starting", None
    if status in {"running", "paused"}:
        if health.get("Status") == "starting":
            return "starting", None
        if health.get("Status") == "unhealthy":
            last = (health.get("Log") or [{}])[-1]
            output = str(last.get("Output", "")).strip()
            return "failed", f"health check failing: {output}"[:1000]
        return "running", "paused" if status == "paused" else None
    if status in {"exited", "dead"}:
        code = state.get("ExitCode")
        if code == 0 and not state.get("OOMKilled") and status == "exited":
            return "stopped", None
        detail = f"container {status} with code {code}"
        if state.get("OOMKilled"):
            detail += " (out of memory)"
        elif code == 137:
            detail += " (killed)"
        if state.get("Error"):
            detail += f": {state['Error']}"
        return "failed", detail
    if status == "removing":
        return "stopped", None
    return "failed", f"unexpected container status {status!r}"


def parse_ref(runtime_ref: str) -> str | None:
    if not runtime_ref.startswith(REF_PREFIX):
        return None
    return runtime_ref[len(REF_PREFIX) :] or None


# --- the runtime ------------------------------------------------------------------------------


class DockerRuntime:
    name = "docker"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any = None
        self._firewall = Firewall(settings)
        self._prepared = False
        self._lock = asyncio.Lock()

    # -- plumbing

    def _docker(self) -> Any:
        if self._client is None:
            try:
                self._client = docker.from_env(timeout=self._settings.DOCKER_API_TIMEOUT_SECONDS)
            except DockerException as exc:
                raise RuntimeUnavailable(f"Docker engine not reachable: {exc}") from exc
        return self._client

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- startup: engine, image, network, firewall

    async def prepare(self) -> None:
        """Check the engine and image, create the network, apply the egress firewall. Done once
        (the firewall is re-checked on every start); raises RuntimeUnavailable with the reason."""
        async with self._lock:
            if not self._prepared:
                await self._call(self._prepare)
                self._prepared = True
            elif self._settings.DOCKER_EGRESS_FIREWALL:
                await self._call(self._ensure_firewall)

    def _prepare(self) -> None:
        client = self._docker()
        try:
            client.ping()
        except DockerException as exc:
            raise RuntimeUnavailable(f"Docker engine not reachable: {exc}") from exc
        try:
            client.images.get(self._settings.ROOM_IMAGE)
        except ImageNotFound as exc:
            raise RuntimeUnavailable(
                f"room image {self._settings.ROOM_IMAGE} is not on the Docker host "
                "(build it with `bash browser-image/build.sh` or pull it)"
            ) from exc
        if self._settings.DOCKER_EGRESS_FIREWALL:
            self._apply_firewall()  # before the network exists: no moment without rules
        else:
            log.warning(
                "DOCKER_EGRESS_FIREWALL=false: room egress is not restricted by the control "
                "plane; the host's own rules must keep rooms off private ranges and the host"
            )
        self._ensure_network(client)

    def _apply_firewall(self) -> None:
        try:
            self._firewall.apply()
        except FirewallError as exc:
            raise RuntimeUnavailable(str(exc)) from exc

    def _ensure_firewall(self) -> None:
        if not self._firewall.installed():
            log.warning("room egress rules missing (flushed?); applying them again")
            self._apply_firewall()

    def _ensure_network(self, client: Any) -> Any:
        settings = self._settings
        for _ in range(2):  # a second pass after losing a creation race
            for network in client.networks.list(names=[settings.DOCKER_NETWORK]):
                if network.name == settings.DOCKER_NETWORK:
                    self._check_network(network.attrs)
                    return network
            try:
                return client.networks.create(
                    settings.DOCKER_NETWORK,
                    driver="bridge",
                    options={
                        BRIDGE_NAME_OPTION: settings.DOCKER_BRIDGE_NAME,
                        "com.docker.network.bridge.enable_ip_masquerade": "true",
                    },
                    ipam=IPAMConfig(
                        pool_configs=[
                            IPAMPool(subnet=settings.DOCKER_SUBNET, gateway=gateway_ip(settings))
                        ]
                    ),
                    # Found by name, never by labels (deployments naming the same
                    # DOCKER_NETWORK share it): the deployment label records the creator.
                    labels=naming.managed_labels(
                        deployment=settings.deployment_id, component=NETWORK_COMPONENT
                    ),
                    check_duplicate=True,
                )
            except APIError as exc:
                if exc.status_code != 409:
                    raise RuntimeUnavailable(
                        f"cannot create Docker network {settings.DOCKER_NETWORK} "
                        f"({settings.DOCKER_SUBNET} on {settings.DOCKER_BRIDGE_NAME}): "
                        f"{exc.explanation or exc}"
                    ) from exc
        raise RuntimeUnavailable(f"Docker network {settings.DOCKER_NETWORK} cannot be created")

    def _check_network(self, attrs: dict[str, Any]) -> None:
        """An existing network must be the one the firewall rules are written for."""
        settings = self._settings
        bridge = (attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION)
        subnets = [c.get("Subnet") for c in (attrs.get("IPAM") or {}).get("Config") or []]
        if bridge != settings.DOCKER_BRIDGE_NAME or settings.DOCKER_SUBNET not in subnets:
            raise RuntimeUnavailable(
                f"Docker network {settings.DOCKER_NETWORK} exists with bridge {bridge!r} and "
                f"subnets {subnets}, not {settings.DOCKER_BRIDGE_NAME!r} / "
                f"{settings.DOCKER_SUBNET}: remove it (`docker network rm "
                f"{settings.DOCKER_NETWORK}`) or change DOCKER_BRIDGE_NAME/DOCKER_SUBNET"
            )

    # -- RoomRuntime

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        started = time.monotonic()
        await self.prepare()
        options = container_options(
            self._settings,
            room_id=room_id,
            room_code=room_code,
            agent_secret=agent_secret,
            start_url=start_url,
        )
        container_id = await self._call(self._create_and_start, room_id, options)
        log.info(
            "room container started",
            extra={
                "room": room_code,
                "room_id": str(room_id),
                "container": options["name"],
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return REF_PREFIX + container_id

    def _create_and_start(self, room_id: uuid.UUID, options: dict[str, Any]) -> str:
        client = self._docker()
        try:
            try:
                container = client.containers.create(**options)
            except APIError as exc:
                if exc.status_code != 409:
                    raise
                # A leftover of this room (crashed start, API restart): replace it.
                self._remove_room_containers(client, room_id)
                container = client.containers.create(**options)
        except ImageNotFound as exc:
            raise RuntimeUnavailable(f"room image {self._settings.ROOM_IMAGE} not found") from exc
        except APIError as exc:
            raise RuntimeUnavailable(f"Docker could not create the room: {_why(exc)}") from exc
        try:
            container.start()
        except APIError as exc:
            try:
                container.remove(force=True)
            except DockerException:
                log.warning("could not remove a container that failed to start", exc_info=True)
            raise RuntimeUnavailable(f"Docker could not start the room: {_why(exc)}") from exc
        return str(container.id)

    def _remove_room_containers(self, client: Any, room_id: uuid.UUID) -> None:
        selector = naming.room_selector(room_id, deployment=self._settings.deployment_id)
        filters = {"label": naming.label_filters(selector)}
        for container in client.containers.list(all=True, filters=filters):
            log.warning("replacing a leftover room container", extra={"container": container.name})
            _remove(container)

    async def stop(self, *, runtime_ref: str) -> None:
        container_id = parse_ref(runtime_ref)
        if container_id is None:
            return
        await self._call(self._stop, container_id)

    def _stop(self, container_id: str) -> None:
        try:
            container = self._docker().containers.get(container_id)
        except NotFound:
            return
        try:
            container.stop(timeout=STOP_GRACE_SECONDS)
        except (NotFound, APIError):
            pass  # gone already, or not running: removed below either way
        _remove(container)
        log.info("room container removed", extra={"container": container.name})

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        container_id = parse_ref(runtime_ref)
        if container_id is None:
            return RuntimeInfo(runtime_ref=runtime_ref, room_id=None, state="missing")
        return await self._call(self._status, runtime_ref, container_id)

    def _status(self, runtime_ref: str, container_id: str) -> RuntimeInfo:
        try:
            container = self._docker().containers.get(container_id)
        except NotFound:
            return RuntimeInfo(runtime_ref=runtime_ref, room_id=None, state="missing")
        return _info(container, with_logs=True)

    async def list_managed(self) -> list[RuntimeInfo]:
        return await self._call(self._list_managed)

    def _list_managed(self) -> list[RuntimeInfo]:
        """This deployment's room containers (the managed labels, deployment id included)."""
        selector = naming.managed_selector(deployment=self._settings.deployment_id)
        containers = self._docker().containers.list(
            all=True, filters={"label": naming.label_filters(selector)}, ignore_removed=True
        )
        return [_info(container, with_logs=False) for container in containers]

    async def aclose(self) -> None:
        # Containers outlive the API process on purpose; the reaper reconciles them.
        if self._client is not None:
            client, self._client = self._client, None
            await self._call(client.close)


def _why(exc: APIError) -> str:
    return str(exc.explanation or exc)


def _remove(container: Any) -> None:
    try:
        container.remove(force=True, v=True)
    except NotFound:
        return
    except APIError as exc:
        if exc.status_code == 409 and "already in progress" in str(exc.explanation or ""):
            return
        raise


def _info(container: Any, *, with_logs: bool) -> RuntimeInfo:
    state, detail = map_state(container.attrs.get("State") or {})
    logs: str | None = None
    if state == "failed" and with_logs:
        try:
            tail = container.logs(stdout=True, stderr=True, tail=LOG_TAIL_LINES)
            text = tail.decode(errors="replace").strip()
        except DockerException:
            text = ""
        if text:  # for the operators' log only: `detail` is what members see
            logs = f"last log lines:\n{text}"[-4000:]
    return RuntimeInfo(
        runtime_ref=REF_PREFIX + str(container.id),
        room_id=naming.room_id_from_labels(container.labels),
        state=state,
        detail=detail,
        logs=logs,
    )
