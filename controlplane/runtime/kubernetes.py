"""Rooms as Kubernetes Pods (ROOM_RUNTIME=kubernetes).

Per room: a Secret with the agent secret, then a bare Pod from `k8s_manifests`, then the Secret is
given an ownerReference to the Pod so the cluster garbage-collects it with the Pod. Per
deployment: the rooms NetworkPolicy, created (or replaced) before the first room starts, unless
KUBERNETES_MANAGE_NETWORK_POLICY is off because the Helm chart or an admin owns it. A room is
never started without its egress block: if the policy cannot be ensured, `start` fails.

The official `kubernetes` client is blocking: every call runs in a worker thread
(`asyncio.to_thread`) with KUBERNETES_API_TIMEOUT_SECONDS as its HTTP timeout. Objects are found
again only by name (the runtime_ref is `namespace/pod-name`) or by the managed labels, which
include this deployment's id: another deployment's rooms in the same namespace are never listed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from kubernetes import config as k8s_config
from kubernetes.client import (
    ApiClient,
    Configuration,
    CoreV1Api,
    NetworkingV1Api,
    V1NetworkPolicy,
    V1Pod,
    V1Secret,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from controlplane.models import RoomStage
from controlplane.runtime import k8s_manifests as manifests
from controlplane.runtime import naming
from controlplane.runtime.base import RuntimeInfo, RuntimeState, RuntimeUnavailable
from controlplane.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Waiting reasons after which a pending pod will not start by itself.
FATAL_WAITING_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def make_ref(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def parse_ref(runtime_ref: str, default_namespace: str) -> tuple[str, str]:
    """`namespace/name` (or a bare name, read in the configured namespace)."""
    namespace, sep, name = runtime_ref.partition("/")
    return (namespace, name) if sep else (default_namespace, runtime_ref)


def load_api_client(settings: Settings) -> ApiClient:
    """In-cluster service account, or a kubeconfig (KUBERNETES_KUBECONFIG, else the default
    one) when KUBERNETES_KUBECONFIG is set or the process is not in a pod. Blocking."""
    configuration = Configuration()
    in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
    if settings.KUBERNETES_KUBECONFIG or not in_cluster:
        k8s_config.load_kube_config(
            config_file=settings.KUBERNETES_KUBECONFIG,
            context=settings.KUBERNETES_CONTEXT,
            client_configuration=configuration,
        )
    else:
        k8s_config.load_incluster_config(client_configuration=configuration)
    return ApiClient(configuration)


def api_reason(exc: BaseException) -> str:
    """A message fit for a room's failure reason."""
    if isinstance(exc, ApiException):
        if exc.status == 403:
            return (
                "the control plane's service account is not allowed to manage room pods "
                "(see the Kubernetes RBAC in docs/deployment.md)"
            )
        return f"Kubernetes API error {exc.status} ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "the Kubernetes API did not answer in time"
    return f"cannot reach the Kubernetes API ({type(exc).__name__})"


def pod_runtime_info(runtime_ref: str, pod: V1Pod) -> RuntimeInfo:
    """Map a Pod's phase, conditions and container states to a RuntimeInfo (pure).

    `starting` carries a `stage`: `scheduling` until a node is chosen, then `booting` (image
    pull, container start); the agent's own stages take over from there. `detail` says the same
    in words."""
    metadata = pod.metadata
    room_id = naming.room_id_from_labels(metadata.labels if metadata else None)
    status = pod.status
    phase = status.phase if status else None
    state: RuntimeState
    detail: str | None = None
    stage: RoomStage | None = None
    if metadata is not None and metadata.deletion_timestamp is not None:
        return RuntimeInfo(runtime_ref, room_id, "stopped", "terminating")
    waiting = [
        cs.state.waiting
        for cs in (status.container_statuses or [] if status else [])
        if cs.state is not None and cs.state.waiting is not None
    ]
    terminated = [
        cs.state.terminated
        for cs in (status.container_statuses or [] if status else [])
        if cs.state is not None and cs.state.terminated is not None
    ]
    if phase in (None, "Pending"):
        fatal = [w for w in waiting if w.reason in FATAL_WAITING_REASONS]
        if fatal:
            state = "failed"
            detail = _join(fatal[0].reason, fatal[0].message)
        else:
            conditions = (status.conditions or []) if status else []
            scheduled = any(c.type == "PodScheduled" and c.status == "True" for c in conditions)
            state = "starting"
            stage = RoomStage.booting if scheduled else RoomStage.scheduling
            detail = stage.value
    elif phase == "Running":
        state = "running"
    elif phase == "Succeeded":
        state = "stopped"
        detail = "exited"
    elif phase == "Failed":
        state = "failed"
        if status is not None and status.reason:
            detail = _join(status.reason, status.message)
        elif terminated:
            t = terminated[0]
            detail = _join(t.reason or "Error", f"exit code {t.exit_code}")
        else:
            detail = "the room's pod failed"
    else:  # "Unknown": the node stopped reporting; the agent heartbeat decides what happens.
        state = "running"
        detail = "pod state unknown (node not reporting)"
    return RuntimeInfo(runtime_ref, room_id, state, detail, stage)


def _join(reason: str | None, message: str | None) -> str:
    return ": ".join(part for part in (reason, message) if part) or "unknown"


class KubernetesRuntime:
    """RoomRuntime on a Kubernetes cluster, via the official (blocking) client in threads."""

    name = "kubernetes"

    def __init__(self, settings: Settings, *, api_client: ApiClient | None = None) -> None:
        self.settings = settings
        self.namespace = settings.KUBERNETES_NAMESPACE
        self.timeout = settings.KUBERNETES_API_TIMEOUT_SECONDS
        self._api_client = api_client
        self._client_lock = asyncio.Lock()
        self._policy_lock = asyncio.Lock()
        self._policy_ready = not settings.KUBERNETES_MANAGE_NETWORK_POLICY

    # -- plumbing ------------------------------------------------------------------------------

    async def _client(self) -> ApiClient:
        if self._api_client is None:
            async with self._client_lock:
                if self._api_client is None:
                    try:
                        self._api_client = await asyncio.to_thread(load_api_client, self.settings)
                    except (ConfigException, OSError) as exc:
                        raise RuntimeUnavailable(f"no Kubernetes configuration: {exc}") from exc
        return self._api_client

    async def _core(self) -> CoreV1Api:
        return CoreV1Api(await self._client())

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call in a worker thread, bounded by the HTTP timeout (and, should the client
        ignore it, by an outer one)."""
        call = functools.partial(fn, *args, _request_timeout=self.timeout, **kwargs)
        return await asyncio.wait_for(asyncio.to_thread(call), timeout=self.timeout * 2 + 1)

    async def _delete(self, fn: Callable[..., Any], name: str, namespace: str, **kw: Any) -> bool:
        """Delete; True if it existed. 404 is success (already gone)."""
        try:
            await self._call(fn, name, namespace, **kw)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def _create_replacing(
        self,
        kind: str,
        create: Callable[..., T],
        delete: Callable[..., Any],
        namespace: str,
        name: str,
        body: Any,
    ) -> T:
        """Create; on 409 (a stale object of the same room, e.g. from a crashed start) delete it
        at once and retry once."""
        try:
            return await self._call(create, namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        log.warning("replacing stale room object", extra={"kind": kind, "object": name})
        await self._delete(delete, name, namespace, grace_period_seconds=0)
        return await self._call(create, namespace, body)

    async def _ensure_network_policy(self) -> None:
        if self._policy_ready:
            return
        async with self._policy_lock:
            if self._policy_ready:
                return
            api = NetworkingV1Api(await self._client())
            manifest = manifests.make_rooms_network_policy(self.settings)
            name = manifest["metadata"]["name"]
            try:
                await self._call(
                    api.create_namespaced_network_policy,
                    self.namespace,
                    V1NetworkPolicy.from_dict(manifest),
                )
            except ApiException as exc:
                if exc.status != 409:
                    raise
                await self._call(
                    api.replace_namespaced_network_policy,
                    name,
                    self.namespace,
                    V1NetworkPolicy.from_dict(manifest),
                )
            self._policy_ready = True

    # -- RoomRuntime ---------------------------------------------------------------------------

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        ns = self.namespace
        secret = manifests.make_room_secret(
            self.settings, room_id=room_id, room_code=room_code, agent_secret=agent_secret
        )
        pod = manifests.make_room_pod(
            self.settings, room_id=room_id, room_code=room_code, start_url=start_url
        )
        secret_name: str = secret["metadata"]["name"]
        pod_name: str = pod["metadata"]["name"]
        core = await self._core()
        secret_created = False
        try:
            await self._ensure_network_policy()
            await self._create_replacing(
                "Secret",
                core.create_namespaced_secret,
                core.delete_namespaced_secret,
                ns,
                secret_name,
                V1Secret.from_dict(secret),
            )
            secret_created = True
            created = await self._create_replacing(
                "Pod",
                core.create_namespaced_pod,
                core.delete_namespaced_pod,
                ns,
                pod_name,
                V1Pod.from_dict(pod),
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            log.warning("room pod not started", extra={"room_id": str(room_id), "error": repr(exc)})
            if secret_created:
                await self._quietly(self._delete(core.delete_namespaced_secret, secret_name, ns))
            raise RuntimeUnavailable(api_reason(exc)) from exc
        uid = created.metadata.uid if created.metadata else None
        if uid:
            # The Secret goes when the Pod goes, even if nobody calls stop().
            owner = {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod_name,
                "uid": uid,
                "blockOwnerDeletion": False,
            }
            await self._quietly(
                self._call(
                    core.patch_namespaced_secret,
                    secret_name,
                    ns,
                    {"metadata": {"ownerReferences": [owner]}},
                    _content_type="application/merge-patch+json",
                )
            )
        log.info("room pod created", extra={"room_id": str(room_id), "pod": pod_name})
        return make_ref(ns, pod_name)

    async def _quietly(self, awaitable: Any) -> None:
        try:
            await awaitable
        except (ApiException, urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            log.warning("kubernetes clean-up step failed", extra={"error": repr(exc)})

    async def stop(self, *, runtime_ref: str) -> None:
        ns, pod_name = parse_ref(runtime_ref, self.namespace)
        core = await self._core()
        try:
            await self._delete(core.delete_namespaced_pod, pod_name, ns)
            await self._delete(
                core.delete_namespaced_secret, manifests.room_secret_name(pod_name), ns
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise RuntimeUnavailable(api_reason(exc)) from exc

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        ns, pod_name = parse_ref(runtime_ref, self.namespace)
        core = await self._core()
        try:
            pod = await self._call(core.read_namespaced_pod, pod_name, ns)
        except ApiException as exc:
            if exc.status == 404:
                return RuntimeInfo(runtime_ref, None, "missing")
            raise RuntimeUnavailable(api_reason(exc)) from exc
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise RuntimeUnavailable(api_reason(exc)) from exc
        return pod_runtime_info(runtime_ref, pod)

    async def list_managed(self) -> list[RuntimeInfo]:
        """This deployment's room pods, found by the managed labels, plus its Secrets left
        without their Pod (reported `stopped`, so an orphan sweep's `stop` removes them)."""
        ns = self.namespace
        selector = naming.selector_string(
            naming.managed_selector(deployment=self.settings.deployment_id)
        )
        core = await self._core()
        try:
            pods = await self._call(core.list_namespaced_pod, ns, label_selector=selector)
            secrets = await self._call(core.list_namespaced_secret, ns, label_selector=selector)
        except (ApiException, urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise RuntimeUnavailable(api_reason(exc)) from exc
        infos: list[RuntimeInfo] = []
        pod_names: set[str] = set()
        for pod in pods.items:
            name = pod.metadata.name if pod.metadata else None
            if not name:
                continue
            pod_names.add(name)
            infos.append(pod_runtime_info(make_ref(ns, name), pod))
        for secret in secrets.items:
            meta = secret.metadata
            if meta is None or not meta.name or not meta.name.endswith(manifests.SECRET_SUFFIX):
                continue
            pod_name = meta.name.removesuffix(manifests.SECRET_SUFFIX)
            if pod_name not in pod_names:
                infos.append(
                    RuntimeInfo(
                        make_ref(ns, pod_name),
                        naming.room_id_from_labels(meta.labels),
                        "stopped",
                        "agent secret without a pod",
                    )
                )
        return infos

    async def aclose(self) -> None:
        if self._api_client is not None:
            client, self._api_client = self._api_client, None
            await asyncio.to_thread(client.close)
