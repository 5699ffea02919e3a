"""Names and labels every runtime backend puts on what it creates (pure, no I/O).

Backends find their rooms again *only* by these labels, so the label keys
and values live in one place. Every label set carries the deployment id (`settings.deployment_id`)
and every selector requires it: two deployments sharing one Docker engine or one Kubernetes
namespace never list (and so never sweep as orphans) each other's rooms.

Names are DNS-1123 labels (lower-case alphanumerics and `-`, at most 63 characters), valid as
Kubernetes object names, Docker container names and hostnames. A room's name is derived from its
id, so starting the same room twice addresses the same object (a leftover from a crashed start is
found by name and replaced, not duplicated).
"""

from __future__ import annotations

import hashlib
import re
import uuid

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "watchparty"
COMPONENT_KEY = "app.kubernetes.io/component"
COMPONENT_ROOM = "room"
NAME_KEY = "app.kubernetes.io/name"
NAME = "watchparty-room"
ROOM_ID_KEY = "watchparty.io/room-id"
ROOM_CODE_KEY = "watchparty.io/room-code"
DEPLOYMENT_KEY = "watchparty.io/deployment"

NAME_PREFIX = "wp-room"
MAX_NAME_LENGTH = 63
_HASH_LENGTH = 8
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def short_hash(room_id: uuid.UUID) -> str:
    """8 hex characters of sha256(room id): keeps names unique when codes collide or are cut."""
    return hashlib.sha256(room_id.bytes).hexdigest()[:_HASH_LENGTH]


def dns_safe(text: str) -> str:
    """Lower-case, anything outside [a-z0-9-] collapsed to '-', no leading/trailing '-'."""
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def room_name(room_id: uuid.UUID, room_code: str) -> str:
    """`wp-room-<code>-<hash>`: readable in `kubectl get pods` / `docker ps`, always valid."""
    suffix = short_hash(room_id)
    room_part = dns_safe(room_code)
    budget = MAX_NAME_LENGTH - len(NAME_PREFIX) - len(suffix) - 2
    room_part = room_part[:budget].strip("-")
    parts = [NAME_PREFIX, room_part, suffix] if room_part else [NAME_PREFIX, suffix]
    return "-".join(parts)


def label_value(text: str) -> str:
    """A valid label value (≤ 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:MAX_NAME_LENGTH]
    value = value.strip("-_.")
    if not _LABEL_VALUE.match(value):  # pragma: no cover - the substitutions above guarantee it
        raise ValueError(f"cannot make a label value from {text!r}")
    return value


def deployment_label(deployment: str) -> str:
    """The deployment id as a label value. Derived ids are hex; DEPLOYMENT_ID's characters are
    all allowed, only a leading or trailing `-`, `_` or `.` is dropped (`label_value`)."""
    return label_value(deployment)


def managed_labels(*, deployment: str, component: str = COMPONENT_ROOM) -> dict[str, str]:
    """managed-by, component and deployment: what every labelled object of a backend carries."""
    return {
        MANAGED_BY_KEY: MANAGED_BY,
        COMPONENT_KEY: component,
        DEPLOYMENT_KEY: deployment_label(deployment),
    }


def managed_selector(*, deployment: str) -> dict[str, str]:
    """The labels that select every room object of this deployment (and no other's)."""
    return managed_labels(deployment=deployment)


def room_labels(room_id: uuid.UUID, room_code: str, *, deployment: str) -> dict[str, str]:
    """All labels of one room's objects (the managed selector plus the room's id and code)."""
    return {
        NAME_KEY: NAME,
        **managed_selector(deployment=deployment),
        ROOM_ID_KEY: str(room_id),
        ROOM_CODE_KEY: label_value(room_code),
    }


def room_selector(room_id: uuid.UUID, *, deployment: str) -> dict[str, str]:
    """The labels that select one room's objects of this deployment."""
    return {**managed_selector(deployment=deployment), ROOM_ID_KEY: str(room_id)}


def label_filters(labels: dict[str, str]) -> list[str]:
    """`["k1=v1", "k2=v2"]` (sorted): Docker's `filters={"label": [...]}` (all must match)."""
    return [f"{key}={value}" for key, value in sorted(labels.items())]


def selector_string(labels: dict[str, str]) -> str:
    """`k1=v1,k2=v2` (sorted): Kubernetes' labelSelector (all must match)."""
    return ",".join(label_filters(labels))


def deployment_name(prefix: str, deployment: str) -> str:
    """`<prefix>-<deployment>`, a DNS-1123 label naming a per-deployment object (e.g. the rooms
    NetworkPolicy). An id that is not already DNS-safe (upper case, `_`, `.`) or too long is cut
    down and gets 8 hex characters of sha256(id), so ids differing only there stay apart."""
    part = dns_safe(deployment)
    budget = MAX_NAME_LENGTH - len(prefix) - 1
    if not part or part != deployment or len(part) > budget:
        digest = hashlib.sha256(deployment.encode()).hexdigest()[:_HASH_LENGTH]
        kept = part[: max(0, budget - _HASH_LENGTH - 1)].strip("-")
        part = f"{kept}-{digest}" if kept else digest
    return f"{prefix}-{part}"


def room_id_from_labels(labels: dict[str, str] | None) -> uuid.UUID | None:
    """The room id a labelled object belongs to, or None when absent or malformed."""
    raw = (labels or {}).get(ROOM_ID_KEY)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
