"""Rooms REST API on both backends: lifecycle, limits, authorization, history."""

from __future__ import annotations

import uuid

import pytest

from tests.support.rooms import Live, create_room, join, live, live_server, room_socket
from tests.support.users import make_superuser, signed_in

__all__ = ["live"]


async def test_create_returns_the_room_and_starts_its_runtime(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers, start_url="https://example.com/")
    assert room["host_id"] == host.id
    assert room["status"] == "starting"
    assert room["max_participants"] == 10
    assert room["join_url"].endswith(f"/room/{room['code']}")
    started = live.runtime.started[room["code"]]
    assert str(started.room_id) == room["id"] and started.start_url == "https://example.com/"
    assert len(started.agent_secret) >= 32
    got = await live.http.get(f"/api/rooms/{room['code'].upper()}", headers=host.headers)
    assert got.status_code == 200 and got.json()["id"] == room["id"]


async def test_create_validates_input(live: Live):
    host = await signed_in(live.http)
    for body, code in [
        ({}, "validation_error"),
        ({"title": "   "}, "validation_error"),
        ({"title": "x" * 121}, "validation_error"),
        ({"title": "t", "max_participants": 0}, "validation_error"),
        ({"title": "t", "max_participants": 51}, "too_many_participants"),
        ({"title": "t", "start_url": "file:///etc/passwd"}, "url_not_allowed"),
        ({"title": "t", "start_url": "javascript:alert(1)"}, "url_not_allowed"),
    ]:
        resp = await live.http.post("/api/rooms", json=body, headers=host.headers)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["code"] == code
    assert (await live.http.post("/api/rooms", json={"title": "t"})).status_code == 401


async def test_private_start_url_refused_unless_allowed(settings_factory):
    settings = await settings_factory(ROOM_ALLOW_PRIVATE_URLS=False)
    async with live_server(settings) as srv:
        host = await signed_in(srv.http)
        for url in ["http://127.0.0.1:8000/", "http://169.254.169.254/", "http://10.0.0.1/"]:
            resp = await srv.http.post(
                "/api/rooms", json={"title": "t", "start_url": url}, headers=host.headers
            )
            assert resp.status_code == 422 and resp.json()["code"] == "url_not_allowed"


async def test_room_creation_rate_limit_and_capacity(settings_factory):
    settings = await settings_factory(ROOM_CREATES_PER_HOUR=2, ROOM_MAX_LIVE=3)
    async with live_server(settings) as srv:
        a, b = await signed_in(srv.http), await signed_in(srv.http)
        await create_room(srv.http, a.headers)
        await create_room(srv.http, a.headers)
        resp = await srv.http.post("/api/rooms", json={"title": "t"}, headers=a.headers)
        assert resp.status_code == 429 and resp.json()["code"] == "rate_limited"
        assert int(resp.headers["Retry-After"]) > 0
        await create_room(srv.http, b.headers)
        resp = await srv.http.post("/api/rooms", json={"title": "t"}, headers=b.headers)
        assert resp.status_code == 503 and resp.json()["code"] == "capacity"
        assert "3 rooms" in resp.json()["detail"]


async def test_room_code_guessing_is_limited_per_user_and_per_address(settings_factory):
    """Issue 11 #7: wrong codes are counted per user and per address; past either budget every
    code lookup (the room, join) answers 429, the right code too, so guessing gains nothing."""
    settings = await settings_factory(
        RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE=3, RATE_LIMIT_IP_MULTIPLIER=2
    )
    async with live_server(settings) as srv:
        host, guesser, other, third = [await signed_in(srv.http) for _ in range(4)]
        room = await create_room(srv.http, host.headers)
        code = room["code"]
        # members' own lookups are not counted
        for _ in range(5):
            assert (await srv.http.get(f"/api/rooms/{code}", headers=host.headers)).is_success
        for i in range(3):
            miss = await srv.http.get(f"/api/rooms/zzzzzz{i:02d}", headers=guesser.headers)
            assert miss.status_code == 404
        for path, method in ((f"/api/rooms/{code}", "GET"), (f"/api/rooms/{code}/join", "POST")):
            resp = await srv.http.request(method, path, headers=guesser.headers)
            assert resp.status_code == 429 and resp.json()["code"] == "rate_limited", resp.text
            assert int(resp.headers["Retry-After"]) > 0
        # the same address has 3 x 2 misses: the next user spends the rest, then is refused too
        for i in range(3):
            miss = await srv.http.post(f"/api/rooms/yyyyyy{i:02d}/join", headers=other.headers)
            assert miss.status_code == 404
        resp = await srv.http.get(f"/api/rooms/{code}", headers=third.headers)
        assert resp.status_code == 429


async def test_a_guesser_at_the_members_address_does_not_lock_them_out(settings_factory):
    """The per-address budget is shared by everyone behind one address (a NAT, a proxy): once a
    guesser there spent it, the room's host and members still reach their own room (REST and
    socket), while the guesser and other non-members are refused."""
    settings = await settings_factory(
        RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE=3, RATE_LIMIT_IP_MULTIPLIER=1
    )
    async with live_server(settings) as srv:
        host, guest, guesser, stranger = [await signed_in(srv.http) for _ in range(4)]
        code = (await create_room(srv.http, host.headers))["code"]
        assert (await srv.http.post(f"/api/rooms/{code}/join", headers=guest.headers)).is_success
        for i in range(3):
            miss = await srv.http.get(f"/api/rooms/xxxxxx{i:02d}", headers=guesser.headers)
            assert miss.status_code == 404
        for member in (host, guest):
            resp = await srv.http.get(f"/api/rooms/{code}/messages", headers=member.headers)
            assert resp.is_success, resp.text
        ws = await room_socket(srv.ws_url, code, guest.access_token)  # has its room.state
        await ws.close()
        for outsider in (guesser, stranger):
            resp = await srv.http.get(f"/api/rooms/{code}", headers=outsider.headers)
            assert resp.status_code == 429, resp.text


async def test_every_route_that_takes_a_code_spends_the_miss_budget(settings_factory):
    """Issue 19 #7: misses through any route with a `{code}` (REST and the room socket) count,
    and past the budget each of them answers 429 (the socket closes 4429) for any code, where it
    would have said 404 (no such room) or 403 (not a member) and so told a guesser which codes
    exist."""
    settings = await settings_factory(
        RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE=3, RATE_LIMIT_IP_MULTIPLIER=100
    )
    async with live_server(settings) as srv:
        host = await signed_in(srv.http)
        room = await create_room(srv.http, host.headers)
        someone = str(uuid.uuid4())
        routes = [
            ("GET", "/api/rooms/{}", None),
            ("GET", "/api/rooms/{}/participants", None),
            ("POST", "/api/rooms/{}/join", None),
            ("POST", "/api/rooms/{}/leave", None),
            ("POST", "/api/rooms/{}/end", None),
            ("DELETE", "/api/rooms/{}/participants/" + someone, None),
            ("POST", "/api/rooms/{}/host", {"user_id": someone}),
            ("GET", "/api/rooms/{}/messages", None),
            ("DELETE", "/api/rooms/{}/messages", None),
            ("POST", "/api/admin/rooms/{}/end", None),
        ]
        for method, path, body in routes:
            guesser = await signed_in(srv.http)
            if "/admin/" in path:
                await make_superuser(srv.app_settings.database_url, guesser.id)
            for i in range(3):
                miss = await srv.http.request(
                    method, path.format(f"zzzzzz{i:02d}"), json=body, headers=guesser.headers
                )
                assert miss.status_code == 404, (path, miss.text)
            # the right code too (administrators, who see every room anyway, get it)
            for code in ("zzzzzz99",) if "/admin/" in path else (room["code"], "zzzzzz99"):
                resp = await srv.http.request(
                    method, path.format(code), json=body, headers=guesser.headers
                )
                assert resp.status_code == 429, (path, resp.text)
                assert resp.json()["code"] == "rate_limited"
                assert int(resp.headers["Retry-After"]) > 0
        # the room socket: misses close 4404, and past the budget it closes 4429, right code too
        guesser = await signed_in(srv.http)
        for i in range(3):
            sock = await room_socket(
                srv.ws_url, f"zzzzzz{i:02d}", guesser.access_token, state=False
            )
            assert await sock.closed() == 4404
        sock = await room_socket(srv.ws_url, room["code"], guesser.access_token, state=False)
        assert await sock.closed() == 4429
        assert "wrong room codes" in (sock.ws.close_reason or "")
        # and the misses it spent count for REST too
        resp = await srv.http.get(f"/api/rooms/{room['code']}/messages", headers=guesser.headers)
        assert resp.status_code == 429
        # the host, who missed nothing, is served
        resp = await srv.http.get(f"/api/rooms/{room['code']}/messages", headers=host.headers)
        assert resp.status_code == 200
        member = await room_socket(srv.ws_url, room["code"], host.access_token)
        await member.close()


async def test_unavailable_runtime_fails_the_room_with_a_reason(settings_factory):
    settings = await settings_factory(ROOM_RUNTIME="none")
    async with live_server(settings, runtime=False) as srv:  # the backend settings name
        host = await signed_in(srv.http)
        room = await create_room(srv.http, host.headers)
        assert room["status"] == "failed"
        assert room["status_reason"] == (
            "this deployment runs no room browsers (ROOM_RUNTIME=none)"
        )


async def test_join_leave_full_and_list(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers, max_participants=2)
    code = room["code"]
    guest, third = await signed_in(live.http), await signed_in(live.http)
    resp = await live.http.post(f"/api/rooms/{code}/join", headers=guest.headers)
    assert resp.status_code == 200 and resp.json()["user_id"] == guest.id
    # joining twice is harmless
    assert (
        await live.http.post(f"/api/rooms/{code}/join", headers=guest.headers)
    ).status_code == 200
    full = await live.http.post(f"/api/rooms/{code}/join", headers=third.headers)
    assert full.status_code == 409 and full.json()["code"] == "room_full"
    mine = await live.http.get("/api/rooms", headers=guest.headers)
    assert [r["code"] for r in mine.json()["data"]] == [code]
    assert (
        await live.http.post(f"/api/rooms/{code}/leave", headers=guest.headers)
    ).status_code == 204
    assert (
        await live.http.post(f"/api/rooms/{code}/leave", headers=guest.headers)
    ).status_code == 403
    await join(live.http, code, third.headers)
    people = await live.http.get(f"/api/rooms/{code}/participants", headers=host.headers)
    assert {p["user_id"] for p in people.json()} == {host.id, third.id}
    assert (await live.http.get("/api/rooms/zzzzzzzz", headers=host.headers)).status_code == 404
    assert (await live.http.get("/api/rooms/../etc", headers=host.headers)).status_code == 404


async def test_end_is_host_only_idempotent_and_closes_the_room(live: Live):
    host = await signed_in(live.http)
    guest = await signed_in(live.http)
    outsider = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    code = room["code"]
    await join(live.http, code, guest.headers)
    for who in (guest, outsider):
        resp = await live.http.post(f"/api/rooms/{code}/end", headers=who.headers)
        assert resp.status_code == 403 and resp.json()["code"] == "not_host"
    first = await live.http.post(f"/api/rooms/{code}/end", headers=host.headers)
    assert first.status_code == 200 and first.json()["status"] == "ended"
    assert first.json()["ended_at"] is not None
    again = await live.http.post(f"/api/rooms/{code}/end", headers=host.headers)
    assert again.status_code == 200 and again.json()["ended_at"] == first.json()["ended_at"]
    assert live.runtime.stopped == [f"test-{code}"]
    late = await live.http.post(f"/api/rooms/{code}/join", headers=outsider.headers)
    assert late.status_code == 410 and late.json()["code"] == "room_ended"
    ended = await live.http.get("/api/rooms?state=ended", headers=host.headers)
    assert [r["code"] for r in ended.json()["data"]] == [code]
    assert (await live.http.get("/api/rooms?state=live", headers=host.headers)).json()["count"] == 0


async def test_kick_and_host_transfer(live: Live):
    host, guest, other = [await signed_in(live.http) for _ in range(3)]
    room = await create_room(live.http, host.headers)
    code = room["code"]
    await join(live.http, code, guest.headers)
    await join(live.http, code, other.headers)
    # guests cannot kick or transfer
    resp = await live.http.delete(
        f"/api/rooms/{code}/participants/{other.id}", headers=guest.headers
    )
    assert resp.status_code == 403
    resp = await live.http.post(
        f"/api/rooms/{code}/host", json={"user_id": guest.id}, headers=guest.headers
    )
    assert resp.status_code == 403
    # the host cannot kick itself; unknown users are 404
    resp = await live.http.delete(f"/api/rooms/{code}/participants/{host.id}", headers=host.headers)
    assert resp.status_code == 409
    resp = await live.http.delete(
        f"/api/rooms/{code}/participants/{uuid.uuid4()}", headers=host.headers
    )
    assert resp.status_code == 404
    resp = await live.http.delete(
        f"/api/rooms/{code}/participants/{other.id}", headers=host.headers
    )
    assert resp.status_code == 204
    rejoin = await live.http.post(f"/api/rooms/{code}/join", headers=other.headers)
    assert rejoin.status_code == 403 and rejoin.json()["code"] == "kicked"
    hist = await live.http.get(f"/api/rooms/{code}/messages", headers=other.headers)
    assert hist.status_code == 403
    # hand the host role over: the old host loses host rights
    resp = await live.http.post(
        f"/api/rooms/{code}/host", json={"user_id": guest.id}, headers=host.headers
    )
    assert resp.status_code == 200 and resp.json()["host_id"] == guest.id
    resp = await live.http.post(f"/api/rooms/{code}/end", headers=host.headers)
    assert resp.status_code == 403
    resp = await live.http.post(
        f"/api/rooms/{code}/host", json={"user_id": other.id}, headers=guest.headers
    )
    assert resp.status_code == 404


async def test_history_is_members_only_paged_newest_first_and_deletable(live: Live):
    host, guest, outsider = [await signed_in(live.http) for _ in range(3)]
    room = await create_room(live.http, host.headers)
    code = room["code"]
    await join(live.http, code, guest.headers)
    sock = await room_socket(live.ws_url, code, guest.access_token)
    for i in range(7):
        await sock.send("chat.send", {"text": f"m{i}"})
        await sock.expect("chat.message", text=f"m{i}")
    await sock.close()
    page = await live.http.get(f"/api/rooms/{code}/messages?limit=3", headers=host.headers)
    assert page.status_code == 200
    body = page.json()
    assert [m["text"] for m in body["data"]] == ["m6", "m5", "m4"] and body["has_more"]
    assert body["data"][0]["user"] == {"id": guest.id, "username": guest.username}
    nxt = await live.http.get(
        f"/api/rooms/{code}/messages?limit=3&before={body['data'][-1]['id']}", headers=host.headers
    )
    assert [m["text"] for m in nxt.json()["data"]] == ["m3", "m2", "m1"]
    last = await live.http.get(
        f"/api/rooms/{code}/messages?limit=3&before={nxt.json()['data'][-1]['id']}",
        headers=host.headers,
    )
    assert [m["text"] for m in last.json()["data"]] == ["m0"] and not last.json()["has_more"]
    bad = await live.http.get(f"/api/rooms/{code}/messages?before=junk", headers=host.headers)
    assert bad.status_code == 422
    bad = await live.http.get(f"/api/rooms/{code}/messages?limit=1000", headers=host.headers)
    assert bad.status_code == 422
    assert (
        await live.http.get(f"/api/rooms/{code}/messages", headers=outsider.headers)
    ).status_code == 403
    resp = await live.http.delete(f"/api/rooms/{code}/messages", headers=guest.headers)
    assert resp.status_code == 403
    assert (
        await live.http.delete(f"/api/rooms/{code}/messages", headers=host.headers)
    ).status_code == 204
    empty = await live.http.get(f"/api/rooms/{code}/messages", headers=guest.headers)
    assert empty.json() == {"data": [], "has_more": False}


@pytest.mark.parametrize("as_admin", [True, False])
async def test_admin_lists_and_ends_any_room(live: Live, as_admin: bool):
    host, admin = await signed_in(live.http), await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    if as_admin:
        await make_superuser(live.app_settings.database_url, admin.id)
    listing = await live.http.get("/api/admin/rooms", headers=admin.headers)
    end = await live.http.post(f"/api/admin/rooms/{room['code']}/end", headers=admin.headers)
    if not as_admin:
        assert listing.status_code == 403 and end.status_code == 403
        return
    assert listing.status_code == 200 and room["code"] in [
        r["code"] for r in listing.json()["data"]
    ]
    assert end.status_code == 200 and end.json()["status"] == "ended"
    assert end.json()["status_reason"] == "ended by an administrator"
