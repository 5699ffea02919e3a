"""Whose profile a room loads and saves, and until when (rooms/profiles.py's pure rules)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from controlplane.errors import DomainError
from controlplane.models import Room, RoomStatus
from controlplane.models.types import utcnow
from controlplane.rooms.profiles import check_profile, may_save, owner_of

HOST = uuid.uuid4()


def room(**kw: object) -> Room:
    base: dict[str, object] = {"room_code": "ABCD", "title": "t", "host_id": HOST}
    return Room(**{**base, **kw})  # type: ignore[arg-type]


def test_the_owner_is_the_host_of_a_room_that_keeps_a_profile_only():
    assert owner_of(room(keep_profile=True)) == HOST
    for r in (room(), room(keep_profile=True, pooled=True, host_id=None)):
        with pytest.raises(DomainError) as e:
            owner_of(r)
        assert e.value.code == "no_profile"


def test_saves_are_taken_until_a_minute_after_the_end():
    now = utcnow()
    assert may_save(room(status=RoomStatus.ready), now)
    assert may_save(room(status=RoomStatus.ending), now)
    ended = room(status=RoomStatus.ended, ended_at=now - timedelta(seconds=30))
    assert may_save(ended, now)
    assert not may_save(room(status=RoomStatus.ended, ended_at=now - timedelta(minutes=5)), now)
    assert not may_save(room(status=RoomStatus.failed), now)


@pytest.mark.parametrize("raw", [b"[]", b"not json", b'{"cookies": {}}', b'{"local_storage": []}'])
def test_anything_but_a_profile_is_refused(raw: bytes):
    with pytest.raises(DomainError) as e:
        check_profile(raw, max_bytes=1000)
    assert e.value.code == "bad_profile"


def test_a_profile_past_the_cap_is_refused():
    with pytest.raises(DomainError) as e:
        check_profile(b'{"cookies": []}' + b" " * 1000, max_bytes=1000)
    assert e.value.code == "profile_too_large"
    assert check_profile(b'{"cookies": [], "local_storage": {}}', max_bytes=1000)
