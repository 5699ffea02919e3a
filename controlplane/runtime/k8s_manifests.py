"""Kubernetes objects for rooms, as plain dicts built from settings and room inputs (pure).

No I/O and no client objects here: `KubernetesRuntime` sends these dicts, the unit tests compare
them field by field and validate them against the Kubernetes JSON schemas, and the Helm chart can
render the same NetworkPolicy.

Per room: a Secret holding the agent secret and a bare Pod (restartPolicy Never: a room whose
browser died is failed or restarted by the control plane, never silently restarted by the
kubelet with a stale profile). No Service: the agent dials *out* to the control plane's agent
channel, and media reaches viewers through TURN (or directly to the pod IP as an ICE candidate);
nothing ever needs a stable name or port of a room pod. Per deployment: one NetworkPolicy for all
its room pods (docs/deployment.md, "Network policy").

Every object carries the deployment label (`naming.DEPLOYMENT_KEY` = `settings.deployment_id`),
and the policy's pod selector requires it: deployments sharing a namespace each have their own
policy over their own pods, and none lists or sweeps another's objects.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from controlplane.runtime import naming
from controlplane.runtime.agent_env import agent_env
from controlplane.runtime.egress import BLOCKED_IPV4, BLOCKED_IPV6
from controlplane.settings import Settings

Manifest = dict[str, Any]

CONTAINER_NAME = "browser"
AGENT_SECRET_KEY = "agent-secret"
SECRET_ENV = "WP_AGENT_SECRET"
NETWORK_POLICY_PREFIX = "watchparty-rooms"  # + "-<deployment id>"
SECRET_SUFFIX = "-agent"
UID = 1000  # the image's unprivileged user (browser-image/Dockerfile: USER 1000:1000)
TERMINATION_GRACE_SECONDS = 10  # the agent stops Chromium, Xvfb and PulseAudio on SIGTERM
TMP_DIR = "/tmp"
PROFILE_DIR = "/tmp/profile"  # WP_PROFILE_DIR: parent of the fresh Chromium profile


def room_secret_name(pod_name: str) -> str:
    return f"{pod_name}{SECRET_SUFFIX}"


def network_policy_name(settings: Settings) -> str:
    """`watchparty-rooms-<deployment id>`: one policy per deployment, so two deployments in one
    namespace never replace each other's (which would leave the loser's pods unselected, i.e.
    with unrestricted egress)."""
    return naming.deployment_name(NETWORK_POLICY_PREFIX, settings.deployment_id)


def cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes quantity in millicores (0.5 -> "500m")."""
    return f"{max(1, round(cores * 1000))}m"


def mib_quantity(mb: int) -> str:
    return f"{mb}Mi"


def room_agent_env(
    settings: Settings, *, room_id: uuid.UUID, secret_name: str, start_url: str | None
) -> list[Manifest]:
    """The agent's WP_* variables (`runtime/agent_env.py`, as for every runtime), with the secret
    taken from the room's Secret (secretKeyRef), so it is not in the Pod spec that anyone with
    `get pods` can read."""
    plain = agent_env(
        settings=settings,
        room_id=room_id,
        agent_secret="",
        start_url=start_url,
        profile_dir=PROFILE_DIR,
    )
    del plain[SECRET_ENV]
    env: list[Manifest] = [{"name": key, "value": value} for key, value in plain.items()]
    env.append(
        {
            "name": SECRET_ENV,
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": AGENT_SECRET_KEY}},
        }
    )
    return env


def _metadata(settings: Settings, *, name: str, room_id: uuid.UUID, room_code: str) -> Manifest:
    return {
        "name": name,
        "namespace": settings.KUBERNETES_NAMESPACE,
        "labels": naming.room_labels(room_id, room_code, deployment=settings.deployment_id),
        "annotations": {naming.ROOM_CODE_KEY: room_code},
    }


def make_room_secret(
    settings: Settings, *, room_id: uuid.UUID, room_code: str, agent_secret: str
) -> Manifest:
    """The per-room Secret the pod reads WP_AGENT_SECRET from; immutable."""
    name = room_secret_name(naming.room_name(room_id, room_code))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(settings, name=name, room_id=room_id, room_code=room_code),
        "type": "Opaque",
        "immutable": True,
        "data": {AGENT_SECRET_KEY: base64.b64encode(agent_secret.encode()).decode()},
    }


def _container_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def make_room_pod(
    settings: Settings, *, room_id: uuid.UUID, room_code: str, start_url: str | None
) -> Manifest:
    """The room's Pod: one hardened container from ROOM_IMAGE, writable only on tmpfs."""
    name = naming.room_name(room_id, room_code)
    env = room_agent_env(
        settings, room_id=room_id, secret_name=room_secret_name(name), start_url=start_url
    )
    container: Manifest = {
        "name": CONTAINER_NAME,
        "image": settings.ROOM_IMAGE,
        "imagePullPolicy": settings.KUBERNETES_IMAGE_PULL_POLICY,
        "env": env,
        "resources": {
            "requests": {
                "cpu": cpu_quantity(min(settings.KUBERNETES_CPU_REQUEST, settings.ROOM_CPU_LIMIT)),
                "memory": mib_quantity(
                    min(settings.KUBERNETES_MEMORY_REQUEST_MB, settings.ROOM_MEMORY_LIMIT_MB)
                ),
            },
            "limits": {
                "cpu": cpu_quantity(settings.ROOM_CPU_LIMIT),
                "memory": mib_quantity(settings.ROOM_MEMORY_LIMIT_MB),
            },
        },
        "securityContext": _container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": TMP_DIR},
            {"name": "profile", "mountPath": PROFILE_DIR},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    spec: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            _memory_volume("tmp", settings.ROOM_TMP_MB),
            _memory_volume("profile", settings.ROOM_TMP_MB),
            _memory_volume("dshm", settings.ROOM_SHM_MB),
        ],
    }
    if settings.KUBERNETES_RUNTIME_CLASS:
        spec["runtimeClassName"] = settings.KUBERNETES_RUNTIME_CLASS
    if settings.KUBERNETES_NODE_SELECTOR:
        spec["nodeSelector"] = dict(settings.KUBERNETES_NODE_SELECTOR)
    if settings.KUBERNETES_TOLERATIONS:
        spec["tolerations"] = [dict(t) for t in settings.KUBERNETES_TOLERATIONS]
    if settings.KUBERNETES_IMAGE_PULL_SECRETS:
        spec["imagePullSecrets"] = [{"name": n} for n in settings.KUBERNETES_IMAGE_PULL_SECRETS]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(settings, name=name, room_id=room_id, room_code=room_code),
        "spec": spec,
    }


def _memory_volume(name: str, size_mb: int) -> Manifest:
    return {"name": name, "emptyDir": {"medium": "Memory", "sizeLimit": mib_quantity(size_mb)}}


def _peer(labels: dict[str, str], namespace: str | None) -> Manifest:
    """A NetworkPolicy peer: pods with these labels, in `namespace` (None: the policy's own)."""
    peer: Manifest = {"podSelector": {"matchLabels": dict(labels)}}
    if namespace:
        peer["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": namespace},
        }
    return peer


def make_rooms_network_policy(settings: Settings) -> Manifest:
    """One policy for every room pod of this deployment (selected by the managed labels,
    deployment included).

    Ingress: nothing, except UDP media from in-cluster TURN pods when KUBERNETES_TURN_LABELS is
    set (a TURN relay sends viewers' media to the pod's host candidate). Replies to connections
    the pod opened are allowed by every NetworkPolicy implementation (it is stateful).
    Egress: cluster DNS; the control plane's pods on the agent port; in-cluster TURN pods;
    KUBERNETES_EGRESS_ALLOW_CIDRS; and the public internet without the private, loopback,
    link-local and metadata ranges and the cluster's own (KUBERNETES_CLUSTER_CIDRS). A ClusterIP
    Service is translated to its pods before the policy applies, so the pod selectors cover
    reaching the control plane through its Service.
    """
    own_ns = settings.KUBERNETES_NAMESPACE
    selector = naming.managed_selector(deployment=settings.deployment_id)
    turn_ns = settings.KUBERNETES_TURN_NAMESPACE
    ingress: list[Manifest] = []
    egress: list[Manifest] = [
        {
            "to": [_peer({"k8s-app": "kube-dns"}, "kube-system")],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {
            "to": [
                _peer(
                    settings.KUBERNETES_CONTROLPLANE_LABELS,
                    settings.KUBERNETES_CONTROLPLANE_NAMESPACE,
                )
            ],
            "ports": [{"protocol": "TCP", "port": settings.KUBERNETES_CONTROLPLANE_PORT}],
        },
    ]
    if settings.KUBERNETES_TURN_LABELS:
        turn = _peer(settings.KUBERNETES_TURN_LABELS, turn_ns)
        ingress.append({"from": [turn], "ports": [{"protocol": "UDP"}]})
        egress.append({"to": [turn]})
    if settings.KUBERNETES_EGRESS_ALLOW_CIDRS:
        egress.append(
            {"to": [{"ipBlock": {"cidr": cidr}} for cidr in settings.KUBERNETES_EGRESS_ALLOW_CIDRS]}
        )
    # The cluster's own ranges come after the always-blocked ones, each in its family's list.
    cluster = settings.KUBERNETES_CLUSTER_CIDRS
    cluster_v4 = [c for c in cluster if ":" not in c]
    cluster_v6 = [c for c in cluster if ":" in c]
    egress.append(
        {
            "to": [
                {"ipBlock": {"cidr": "0.0.0.0/0", "except": [*BLOCKED_IPV4, *cluster_v4]}},
                {"ipBlock": {"cidr": "::/0", "except": [*BLOCKED_IPV6, *cluster_v6]}},
            ]
        }
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": network_policy_name(settings),
            "namespace": own_ns,
            "labels": {naming.NAME_KEY: naming.NAME, **selector},
        },
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
