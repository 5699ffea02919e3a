"""Saved browser profiles sealed at rest (rooms/profile_crypto.py), without any services."""

from __future__ import annotations

import json
import uuid

import pytest

from controlplane.rooms.profile_crypto import HEADER, MAGIC, ProfileRefused, open_sealed, seal

SECRET = "server-secret-0123456789-0123456789-abcdef"
ANN, BEN = uuid.uuid4(), uuid.uuid4()
PROFILE = json.dumps(
    {
        "cookies": [{"name": "sid", "value": "cookie-value-in-clear-42", "domain": "a.example"}],
        "local_storage": {"https://a.example": {"token": "local-storage-in-clear"}},
    }
).encode()
CAP = 1 << 20


def test_round_trip_and_nothing_in_clear():
    sealed = seal(SECRET, ANN, PROFILE, max_bytes=CAP)
    assert sealed.startswith(MAGIC)
    for clear in (b"cookie-value-in-clear-42", b"local-storage-in-clear", b"a.example", b"sid"):
        assert clear not in sealed
    assert open_sealed(SECRET, ANN, sealed, max_bytes=CAP) == PROFILE


def test_a_fresh_data_key_each_time():
    one, two = seal(SECRET, ANN, PROFILE, max_bytes=CAP), seal(SECRET, ANN, PROFILE, max_bytes=CAP)
    assert one[len(MAGIC) : HEADER] != two[len(MAGIC) : HEADER] and one[HEADER:] != two[HEADER:]


@pytest.mark.parametrize(
    "opener",
    [
        lambda s: open_sealed(SECRET, BEN, s, max_bytes=CAP),  # another user's row
        lambda s: open_sealed("another-server-secret-0123456789-xyz", ANN, s, max_bytes=CAP),
        lambda s: open_sealed(SECRET, ANN, s[:-1] + bytes([s[-1] ^ 1]), max_bytes=CAP),
        lambda s: open_sealed(SECRET, ANN, s[:HEADER], max_bytes=CAP),
        lambda s: open_sealed(SECRET, ANN, b"garbage" * 20, max_bytes=CAP),
    ],
    ids=["other-user", "other-secret", "flipped-bit", "truncated", "garbage"],
)
def test_anything_else_is_refused_as_corrupt(opener):
    sealed = seal(SECRET, ANN, PROFILE, max_bytes=CAP)
    with pytest.raises(ProfileRefused) as e:
        opener(sealed)
    assert e.value.code == "profile_corrupt"


def test_oversized_is_refused_when_sealed_and_when_opened():
    with pytest.raises(ProfileRefused) as e:
        seal(SECRET, ANN, b"x" * 2000, max_bytes=1000)
    assert e.value.code == "profile_too_large"
    # Sealed under a larger cap (the setting lowered since): refused without inflating it all.
    big = seal(SECRET, ANN, b"x" * 5_000_000, max_bytes=10_000_000)
    assert len(big) < 20_000  # compressed: a small blob may inflate past the cap
    with pytest.raises(ProfileRefused) as e:
        open_sealed(SECRET, ANN, big, max_bytes=1000)
    assert e.value.code == "profile_too_large"
