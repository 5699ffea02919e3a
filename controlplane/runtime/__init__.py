"""Room runtimes: where a room's browser runs (local processes, Docker, Kubernetes)."""

from controlplane.runtime.base import (
    RoomRuntime,
    RuntimeInfo,
    RuntimeUnavailable,
    UnavailableRuntime,
    make_runtime,
)

__all__ = ["RoomRuntime", "RuntimeInfo", "RuntimeUnavailable", "UnavailableRuntime", "make_runtime"]
