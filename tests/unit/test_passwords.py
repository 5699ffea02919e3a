"""Stored passwords: Argon2id at the cost the settings give (the test suite runs at the least
Argon2 allows; production may not go below OWASP's floor)."""

from __future__ import annotations

import pytest

from controlplane.auth.passwords import password_helper
from controlplane.settings import InsecureSettingsError, Settings

FIT = {
    "SECRET_KEY": "s" * 40,
    "AGENT_SECRET_KEY": "a" * 40,
    "PROFILE_SECRET_KEY": "p" * 40,
    "SMTP_HOST": "mail",
}


def make(**env: object) -> Settings:
    return Settings(_env_file=None, ROOM_RUNTIME="docker", **env)  # type: ignore[arg-type]


def test_default_cost_is_pwdlibs_recommended_argon2id() -> None:
    stored = password_helper(make()).hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_at_another_cost_verifies_and_is_rehashed_at_this_one() -> None:
    cheap = password_helper(make(PASSWORD_HASH_MEMORY_KIB=1024, PASSWORD_HASH_TIME_COST=1))
    stored = cheap.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=4$")
    assert cheap.verify_and_update("correct horse", stored) == (True, None)
    assert cheap.verify_and_update("wrong horse", stored) == (False, None)
    ok, upgraded = password_helper(make()).verify_and_update("correct horse", stored)
    assert ok and upgraded and upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(
    "cost",
    [
        {"PASSWORD_HASH_MEMORY_KIB": 19455},
        {"PASSWORD_HASH_TIME_COST": 1},
    ],
)
def test_production_refuses_a_cost_below_the_owasp_floor(cost: dict[str, int]) -> None:
    with pytest.raises(InsecureSettingsError, match="PASSWORD_HASH_MEMORY_KIB"):
        make(ENVIRONMENT="production", **FIT, **cost).check_production()
    floor = {"PASSWORD_HASH_MEMORY_KIB": 19456, "PASSWORD_HASH_TIME_COST": 2}
    make(ENVIRONMENT="production", **FIT, **floor).check_production()
    make(ENVIRONMENT="production", **FIT).check_production()


def test_a_bcrypt_hash_still_verifies_and_is_upgraded_to_argon2id() -> None:
    from pwdlib.hashers.bcrypt import BcryptHasher

    stored = BcryptHasher(rounds=4).hash("correct horse")
    ok, upgraded = password_helper(make()).verify_and_update("correct horse", stored)
    assert ok and upgraded and upgraded.startswith("$argon2id$")
