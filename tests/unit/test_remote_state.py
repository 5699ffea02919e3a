"""The remote-control state machine, without any services."""

import pytest

from controlplane.errors import DomainError
from controlplane.realtime.remote import RemoteState, apply

HOST, A, B, C = "host", "alice", "bob", "carol"


def held_by(holder: str | None, *requests: str) -> RemoteState:
    return RemoteState(host_id=HOST, holder_id=holder, requests=tuple(requests))


def test_new_room_starts_with_the_host_holding_it():
    assert RemoteState.initial(HOST) == held_by(HOST)


def test_request_when_nobody_holds_claims_it():
    tr = apply(held_by(None), "request", actor=A)
    assert tr.state.holder_id == A
    assert tr.events == [
        ("remote.changed", {"holder_id": A, "by": A, "reason": "claimed", "requests": []})
    ]


def test_request_when_held_queues_once_and_announces():
    tr = apply(held_by(HOST), "request", actor=A)
    assert tr.state.requests == (A,)
    assert tr.events == [("remote.requested", {"user_id": A, "requests": [A]})]
    again = apply(tr.state, "request", actor=A)
    assert again.state == tr.state and again.events == []


def test_holder_cannot_request():
    with pytest.raises(DomainError) as e:
        apply(held_by(A), "request", actor=A)
    assert e.value.code == "already_holder"


@pytest.mark.parametrize("granter", [HOST, A])
def test_host_or_holder_grants_a_requester(granter):
    tr = apply(held_by(A, B, C), "grant", actor=granter, target=B)
    assert tr.state == held_by(B, C)
    assert tr.events[0][1] == {"holder_id": B, "by": granter, "reason": "granted", "requests": [C]}


def test_grant_by_someone_else_is_forbidden():
    with pytest.raises(DomainError) as e:
        apply(held_by(A, B), "grant", actor=C, target=B)
    assert e.value.code == "forbidden"


def test_grant_needs_a_request():
    with pytest.raises(DomainError) as e:
        apply(held_by(A), "grant", actor=HOST, target=B)
    assert e.value.code == "not_requested"


def test_holder_passes_to_anyone():
    tr = apply(held_by(A), "pass", actor=A, target=C)
    assert tr.state.holder_id == C and tr.events[0][1]["reason"] == "passed"


@pytest.mark.parametrize(
    ("actor", "target", "code"), [(B, C, "not_holder"), (A, A, "invalid_target")]
)
def test_pass_rules(actor, target, code):
    with pytest.raises(DomainError) as e:
        apply(held_by(A), "pass", actor=actor, target=target)
    assert e.value.code == code


@pytest.mark.parametrize(("action", "reason"), [("take", "taken"), ("revoke", "revoked")])
def test_host_takes_or_revokes_instantly(action, reason):
    tr = apply(held_by(A, HOST, B), action, actor=HOST)
    assert tr.state == held_by(HOST, B)
    assert tr.events[0][1]["reason"] == reason


@pytest.mark.parametrize("action", ["take", "revoke"])
def test_guest_cannot_take_or_revoke(action):
    with pytest.raises(DomainError) as e:
        apply(held_by(A), action, actor=B)
    assert e.value.code == "forbidden"


def test_take_when_host_already_holds_is_a_no_op():
    tr = apply(held_by(HOST), "take", actor=HOST)
    assert tr.state == held_by(HOST) and tr.events == []


def test_release_goes_to_nobody_or_back_to_host():
    assert apply(held_by(A), "release", actor=A).state.holder_id is None
    assert apply(held_by(A), "release", actor=A, release_to_host=True).state.holder_id == HOST
    # the host releasing never hands it back to itself
    assert apply(held_by(HOST), "release", actor=HOST, release_to_host=True).state.holder_id is None


def test_only_the_holder_releases():
    with pytest.raises(DomainError) as e:
        apply(held_by(A), "release", actor=B)
    assert e.value.code == "not_holder"


def test_holder_leaving_releases_it_with_a_reason():
    tr = apply(held_by(A, B), "left", actor=A, reason="holder_kicked")
    assert tr.state == held_by(None, B)
    assert tr.events[0][1] == {
        "holder_id": None,
        "by": A,
        "reason": "holder_kicked",
        "requests": [B],
    }


def test_requester_leaving_drops_its_request():
    tr = apply(held_by(A, B, C), "left", actor=B)
    assert tr.state == held_by(A, C)
    assert tr.events == [("remote.requests", {"requests": [C]})]
    assert apply(held_by(A), "left", actor=C).events == []


def test_host_change_moves_host_rights():
    tr = apply(held_by(A), "host_changed", actor=B)
    assert tr.state.host_id == B
    assert apply(tr.state, "take", actor=B).state.holder_id == B
    with pytest.raises(DomainError):
        apply(tr.state, "take", actor=HOST)


def test_state_round_trips_through_json():
    s = held_by(A, B, C)
    assert RemoteState.from_json(s.to_json()) == s


# With the host's browser profile loaded and others not allowed to drive (`owner_only`), the
# remote reaches nobody but the host, whatever the action.


@pytest.mark.parametrize(
    ("state", "action", "actor", "target"),
    [
        (held_by(None), "request", A, None),
        (held_by(HOST), "request", A, None),
        (held_by(HOST, A), "grant", HOST, A),
        (held_by(HOST), "pass", HOST, A),
        (held_by(B), "pass", B, A),
    ],
)
def test_owner_only_gives_the_remote_to_nobody_but_the_host(state, action, actor, target):
    with pytest.raises(DomainError) as e:
        apply(state, action, actor=actor, target=target, owner_only=True)
    assert e.value.code == "profile_owner_only"
    # The same step without the profile rule is allowed.
    apply(state, action, actor=actor, target=target)


def test_owner_only_still_lets_the_host_hold_release_and_take_it():
    claimed = apply(held_by(None), "request", actor=HOST, owner_only=True)
    assert claimed.state.holder_id == HOST
    released = apply(claimed.state, "release", actor=HOST, owner_only=True)
    assert released.state.holder_id is None
    taken = apply(held_by(A), "take", actor=HOST, owner_only=True)
    assert taken.state.holder_id == HOST
    passed = apply(held_by(A), "pass", actor=A, target=HOST, owner_only=True)
    assert passed.state.holder_id == HOST


def test_may_hold():
    from controlplane.realtime.remote import may_hold

    state = held_by(HOST)
    assert may_hold(state, HOST, owner_only=True)
    assert may_hold(state, None, owner_only=True)
    assert not may_hold(state, A, owner_only=True)
    assert may_hold(state, A, owner_only=False)
