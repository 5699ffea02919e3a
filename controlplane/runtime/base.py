"""The contract every room runtime backend meets (the backend is chosen in controlplane/wiring.py).

A runtime starts one isolated browser + room agent per room and finds it again by its
`runtime_ref` (or, for orphan sweeps, by its labels). The agent it starts dials back to the
control plane's agent channel with the per-room secret given to `start`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from controlplane.models.room import RoomStage

RuntimeState = Literal["starting", "running", "stopped", "failed", "missing"]


class RuntimeUnavailable(RuntimeError):
    """The backend cannot start rooms; the message is shown to users as the room's reason."""


@dataclass(frozen=True)
class RuntimeInfo:
    runtime_ref: str
    room_id: uuid.UUID | None
    state: RuntimeState
    # Readable words on the state (why it failed, what it waits for); shown to people.
    detail: str | None = None
    # How far a `starting` room has come, when the runtime can tell (a pod waiting for a node
    # is `scheduling`, one pulling its image `booting`); None when it cannot.
    stage: RoomStage | None = None
    # What the room's processes printed last, when it failed: for operators (the server log),
    # never for members (it can hold anything the page or the browser wrote).
    logs: str | None = None


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
