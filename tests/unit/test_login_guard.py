"""The login limits' policy (issue 19 #9): pure functions, no services."""

from __future__ import annotations

import uuid

from controlplane.auth.login_guard import (
    device_token,
    login_budgets,
    new_device,
    read_device,
)

SECRET = "s" * 40


HASH = "$argon2id$v=19$m=65536,t=3,p=4$one"


def test_a_device_token_reads_back_only_with_its_secret_and_untouched() -> None:
    user = uuid.uuid4()
    device = new_device(user)
    token = device_token(SECRET, device, HASH)
    assert read_device(SECRET, token, user, HASH) == device
    assert read_device("t" * 40, token, user, HASH) is None
    other = uuid.uuid4()
    uid, did, mac = token.split(".")
    assert read_device(SECRET, f"{other}.{did}.{mac}", other, HASH) is None  # another user's
    assert read_device(SECRET, token, other, HASH) is None
    assert read_device(SECRET, f"{uid}.other.{mac}", user, HASH) is None
    for bad in (None, "", "a.b", "x.y.z", token + ".x", token[:-1], "a" * 300):
        assert read_device(SECRET, bad, user, HASH) is None


def test_a_new_password_revokes_every_device() -> None:
    """The cookie is earned with a password: after a change or a reset it no longer counts."""
    user = uuid.uuid4()
    token = device_token(SECRET, new_device(user), HASH)
    assert read_device(SECRET, token, user, HASH + "-changed") is None


def test_no_budget_is_the_account_alone_at_the_per_address_limit() -> None:
    """A stranger's guesses spend the address's and the account's-from-that-address budgets;
    the account's total is a multiple of them, so one address can never exhaust it."""
    budgets = dict(
        login_budgets(ident="ann", ip="192.0.2.1", device=None, per_minute=10, ip_multiplier=5)
    )
    assert budgets == {
        "login:ip:192.0.2.1": 50,
        "login:acct:ann:ip:192.0.2.1": 10,
        "login:acct:ann": 50,
    }
    device = new_device(uuid.uuid4())
    known = login_budgets(
        ident="ann", ip="192.0.2.1", device=device, per_minute=10, ip_multiplier=5
    )
    assert known == [(f"login:dev:{device.device_id}", 10)]
