"""The remote control as a pure state machine: who holds it, who asked for it.

`apply(state, action, ...)` returns the next state and the events to broadcast, or raises
a DomainError with a stable code. No I/O here; the hub makes each step atomic across replicas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from watchparty_wire.room import RemoteChanged, RemoteRequested, RemoteRequests

from controlplane.errors import DomainError, Kind

Action = Literal["request", "grant", "pass", "take", "revoke", "release", "left", "host_changed"]
# (type, data) of a broadcast, as the bus publishes it.
Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class RemoteState:
    host_id: str
    holder_id: str | None
    requests: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {"host_id": self.host_id, "holder_id": self.holder_id, "requests": list(self.requests)}
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> RemoteState:
        d = json.loads(raw)
        return cls(
            host_id=d["host_id"], holder_id=d["holder_id"], requests=tuple(d.get("requests", ()))
        )

    @classmethod
    def initial(cls, host_id: str) -> RemoteState:
        """A new room: the host drives first."""
        return cls(host_id=host_id, holder_id=host_id)

    def public(self) -> dict[str, Any]:
        return {"holder_id": self.holder_id, "requests": list(self.requests)}


@dataclass(frozen=True)
class Transition:
    state: RemoteState
    events: list[Event] = field(default_factory=list)


def _without(requests: tuple[str, ...], *users: str | None) -> tuple[str, ...]:
    return tuple(r for r in requests if r not in users)


def _changed(state: RemoteState, holder: str | None, *, by: str, reason: str) -> Transition:
    new = replace(state, holder_id=holder, requests=_without(state.requests, holder))
    event = RemoteChanged(holder_id=holder, by=by, reason=reason, requests=list(new.requests))
    return Transition(new, [event.event()])


def may_hold(state: RemoteState, user: str | None, *, owner_only: bool) -> bool:
    """Whether `user` may be given the remote. `owner_only`: the room has its host's browser
    profile loaded (signed in to their sites) and the host did not "Let others drive my
    signed-in browser": then nobody but the host holds it."""
    return user is None or not owner_only or user == state.host_id


def back_to_host(state: RemoteState) -> Transition:
    """The remote back to the host when someone else holds it (the host's profile is loaded and
    others may no longer drive); nobody holding it stays so."""
    if state.holder_id in (None, state.host_id):
        return Transition(state)
    return apply(state, "take", actor=state.host_id)


def _owner_only_refusal() -> DomainError:
    return DomainError(
        Kind.forbidden,
        "profile_owner_only",
        "Only the host drives this room: it has their signed-in browser profile",
    )


def apply(
    state: RemoteState,
    action: Action,
    *,
    actor: str,
    target: str | None = None,
    release_to_host: bool = False,
    reason: str | None = None,
    owner_only: bool = False,
) -> Transition:
    """One step. `actor` is the user acting (for `left`, the user who left or was kicked;
    for `host_changed`, the new host). Membership of `target` is the caller's to check.
    `owner_only` (`may_hold`): request, grant and pass give the remote to the host alone."""
    is_host = actor == state.host_id
    is_holder = state.holder_id is not None and actor == state.holder_id
    receiver = {"request": actor, "grant": target, "pass": target}.get(action)
    if receiver is not None and not may_hold(state, receiver, owner_only=owner_only):
        raise _owner_only_refusal()

    if action == "request":
        if is_holder:
            raise DomainError(Kind.conflict, "already_holder", "You already hold the remote")
        if state.holder_id is None:
            return _changed(state, actor, by=actor, reason="claimed")
        if actor in state.requests:
            return Transition(state)
        new = replace(state, requests=(*state.requests, actor))
        return Transition(
            new, [RemoteRequested(user_id=actor, requests=list(new.requests)).event()]
        )

    if action == "grant":
        if not (is_holder or is_host):
            raise DomainError(
                Kind.forbidden, "forbidden", "Only the holder or the host can grant the remote"
            )
        if target is None or target not in state.requests:
            raise DomainError(
                Kind.conflict, "not_requested", "That user has not asked for the remote"
            )
        return _changed(state, target, by=actor, reason="granted")

    if action == "pass":
        if not is_holder:
            raise DomainError(Kind.forbidden, "not_holder", "Only the holder can pass the remote")
        if target is None or target == actor:
            raise DomainError(Kind.invalid, "invalid_target", "Pass the remote to someone else")
        return _changed(state, target, by=actor, reason="passed")

    if action in ("take", "revoke"):
        if not is_host:
            raise DomainError(Kind.forbidden, "forbidden", f"Only the host can {action} the remote")
        if state.holder_id == state.host_id:
            return Transition(state)
        return _changed(
            state, state.host_id, by=actor, reason="taken" if action == "take" else "revoked"
        )

    if action == "release":
        if not is_holder:
            raise DomainError(Kind.forbidden, "not_holder", "You do not hold the remote")
        to = state.host_id if release_to_host and not is_host else None
        return _changed(state, to, by=actor, reason="released")

    if action == "left":
        requests = _without(state.requests, actor)
        if state.holder_id == actor:
            to = state.host_id if release_to_host and not is_host else None
            return _changed(
                replace(state, requests=requests), to, by=actor, reason=reason or "holder_left"
            )
        if requests != state.requests:
            new = replace(state, requests=requests)
            return Transition(new, [RemoteRequests(requests=list(requests)).event()])
        return Transition(state)

    if action == "host_changed":
        return Transition(replace(state, host_id=actor))

    raise DomainError(Kind.invalid, "unknown_action", f"Unknown remote action {action}")
