"""The contract every room runtime backend meets, and the choice of backend from settings.

A runtime starts one isolated browser + room agent per room and finds it again by its
`runtime_ref` (or, for orphan sweeps, by its labels). The agent it starts dials back to the
control plane's agent channel with the per-room secret given to `start`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from controlplane.settings import Settings

log = logging.getLogger(__name__)

RuntimeState = Literal["starting", "running", "stopped", "failed", "missing"]


class RuntimeUnavailable(RuntimeError):
    """The backend cannot start rooms; the message is shown to users as the room's reason."""


@dataclass(frozen=True)
class RuntimeInfo:
    runtime_ref: str
    room_id: uuid.UUID | None
    state: RuntimeState
    detail: str | None = None


@runtime_checkable
class RoomRuntime(Protocol):
    name: str

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        """Launch the room's browser and agent; return a runtime_ref once it is launched (not
        necessarily ready: the agent's `ready` says that). Raise RuntimeUnavailable when the
        backend cannot start it; the room then fails with that reason."""
        ...

    async def stop(self, *, runtime_ref: str) -> None:
        """Stop and remove it. Idempotent: an unknown ref is not an error."""
        ...

    async def status(self, *, runtime_ref: str) -> RuntimeInfo: ...

    async def list_managed(self) -> list[RuntimeInfo]:
        """Everything this backend created (found by label), for orphan sweeps."""
        ...

    async def aclose(self) -> None: ...


class UnavailableRuntime:
    """Stands in for a backend that is not built or not usable here: rooms fail with a reason."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        self.name = name
        self.reason = reason or f"runtime '{name}' not available yet"

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        raise RuntimeUnavailable(self.reason)

    async def stop(self, *, runtime_ref: str) -> None:
        return None

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        return RuntimeInfo(runtime_ref=runtime_ref, room_id=None, state="missing")

    async def list_managed(self) -> list[RuntimeInfo]:
        return []

    async def aclose(self) -> None:
        return None


def make_runtime(settings: Settings) -> RoomRuntime:
    """The backend named by ROOM_RUNTIME. Backends not built yet give UnavailableRuntime, so the
    app still starts and rooms fail with a clear reason instead of the process crashing."""
    name = settings.ROOM_RUNTIME
    log.info("room runtime chosen", extra={"runtime": name})
    if name == "kubernetes":
        from controlplane.runtime.kubernetes import KubernetesRuntime  # lazy: only when chosen

        return KubernetesRuntime(settings)
    if name == "docker":
        from controlplane.runtime.docker import DockerRuntime  # lazy: only when chosen

        return DockerRuntime(settings)
    if name == "local":
        from controlplane.runtime.local import LocalRuntime  # lazy: only when chosen

        return LocalRuntime(settings)
    if name == "none":
        return UnavailableRuntime(name, "this deployment runs no room browsers (ROOM_RUNTIME=none)")
    return UnavailableRuntime(name)
