""" "Keep my browser profile" through the control plane, on both backends, with the test playing
the room agent over its real endpoints (`GET`/`PUT /internal/agents/profile` on the agent
listener, its per-room secret): sealed at rest (no cookie value in clear), loaded only into the
host's own rooms that keep it, corrupt and oversized blobs refused with a reason (the room starts
clean), forgotten by "Forget my browser profile" and with the account; and while it is loaded
only the host holds the remote unless they let others drive.

(tests/runtime/test_profile_local.py does the sign-in with real room browsers.)"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from controlplane.models import BrowserProfile, User
from controlplane.rooms.profile_crypto import MAGIC
from tests.support.rooms import (
    Live,
    Started,
    agent_socket,
    create_room,
    join,
    live,
    live_server,
    room_socket,
)
from tests.support.users import SignedIn, signed_in
from tests.support.waits import eventually

__all__ = ["live"]  # the fixture

COOKIE_VALUE = "s3cr3t-cookie-value-0123456789abcdef"
PROFILE = {
    "version": 1,
    "cookies": [
        {
            "name": "session",
            "value": COOKIE_VALUE,
            "domain": "example.com",
            "path": "/",
            "expires": 4102444800,
            "httpOnly": True,
            "secure": True,
        }
    ],
    "local_storage": {"https://example.com": {"prefs": "dark-mode-in-clear"}},
}


def agent_http(live: Live, started: Started) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live.agent_port}",
        headers={"Authorization": f"Agent {started.room_id}:{started.agent_secret}"},
        timeout=30,
    )


async def profile_room(live: Live, who: SignedIn, **choices: Any) -> tuple[dict[str, Any], Started]:
    room = await create_room(live.http, who.headers, **{"keep_profile": True, **choices})
    return room, live.runtime.started[room["code"]]


async def row_of(live: Live, user: SignedIn) -> BrowserProfile | None:
    async with live.app.state.ctx.sessionmaker() as s:
        return await s.get(BrowserProfile, uuid.UUID(user.id))


async def test_saved_sealed_and_loaded_into_the_hosts_next_room_only(live: Live) -> None:
    ann, ben = await signed_in(live.http), await signed_in(live.http)
    _, started = await profile_room(live, ann)
    # The room keeps a profile: the browser starts blank, the agent learns the start page and
    # that it loads the profile from auth.ok.
    assert started.start_url is None
    agent = await agent_socket(live.agent_ws_url, started)
    assert agent.of_type("auth.ok")[-1]["data"]["keep_profile"] is True
    async with agent_http(live, started) as http:
        assert (await http.get("/internal/agents/profile")).json() == {
            "profile": None,
            "refused": None,
            "detail": None,
        }
        resp = await http.put("/internal/agents/profile", content=json.dumps(PROFILE))
        assert resp.status_code == 204, resp.text
    await agent.close()
    row = await row_of(live, ann)
    assert row is not None and row.sealed.startswith(MAGIC)
    assert COOKIE_VALUE.encode() not in row.sealed and b"dark-mode" not in row.sealed
    assert b"example.com" not in row.sealed

    # Ann's next room with the option gets it back, whole.
    _, again = await profile_room(live, ann)
    async with agent_http(live, again) as http:
        assert (await http.get("/internal/agents/profile")).json()["profile"] == PROFILE
    # Ben's room with the option gets nothing of Ann's; a room without the option loads none.
    _, bens = await profile_room(live, ben)
    async with agent_http(live, bens) as http:
        assert (await http.get("/internal/agents/profile")).json()["profile"] is None
    plain = await create_room(live.http, ann.headers)
    async with agent_http(live, live.runtime.started[plain["code"]]) as http:
        resp = await http.get("/internal/agents/profile")
        assert resp.status_code == 409 and resp.json()["code"] == "no_profile"
        resp = await http.put("/internal/agents/profile", content=json.dumps(PROFILE))
        assert resp.status_code == 409
    # A wrong secret, or a room's secret used for another room, is refused.
    forged = Started(again.room_id, again.room_code, started.agent_secret, None)
    async with agent_http(live, forged) as http:
        assert (await http.get("/internal/agents/profile")).status_code == 401
    # The profile endpoint answers on the agent listener only.
    resp = await live.http.get("/internal/agents/profile")
    assert resp.status_code == 404


async def test_a_blob_of_another_user_or_damaged_is_refused_and_the_room_starts_clean(
    live: Live,
) -> None:
    ann, ben = await signed_in(live.http), await signed_in(live.http)
    _, started = await profile_room(live, ann)
    async with agent_http(live, started) as http:
        assert (await http.put("/internal/agents/profile", content=json.dumps(PROFILE))).is_success
    ctx = live.app.state.ctx
    row = await row_of(live, ann)
    assert row is not None
    # Ann's blob copied into Ben's row does not open for Ben (the owner is authenticated too).
    async with ctx.sessionmaker() as s:
        s.add(BrowserProfile(user_id=uuid.UUID(ben.id), sealed=row.sealed, plain_bytes=1))
        await s.commit()
    _, bens = await profile_room(live, ben)
    async with agent_http(live, bens) as http:
        got = (await http.get("/internal/agents/profile")).json()
    assert got["profile"] is None and got["refused"] == "profile_corrupt", got
    # One flipped byte of Ann's own.
    damaged = bytearray(row.sealed)
    damaged[-5] ^= 0x01
    async with ctx.sessionmaker() as s:
        await s.execute(
            update(BrowserProfile)
            .where(BrowserProfile.user_id == uuid.UUID(ann.id))  # type: ignore[arg-type]
            .values(sealed=bytes(damaged))
        )
        await s.commit()
    _, anns = await profile_room(live, ann)
    async with agent_http(live, anns) as http:
        got = (await http.get("/internal/agents/profile")).json()
    assert got["profile"] is None and got["refused"] == "profile_corrupt"
    assert "damaged" in got["detail"]


async def test_oversized_profiles_are_refused_both_ways(settings_factory) -> None:
    settings = await settings_factory(PROFILE_MAX_BYTES=4096)
    async with live_server(settings) as live:
        ann = await signed_in(live.http)
        _, started = await profile_room(live, ann)
        big = {**PROFILE, "local_storage": {"https://example.com": {"blob": "x" * 5000}}}
        async with agent_http(live, started) as http:
            resp = await http.put("/internal/agents/profile", content=json.dumps(big))
            assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"
            assert (await http.put("/internal/agents/profile", content=b"[]")).status_code == 422
            ok = await http.put("/internal/agents/profile", content=json.dumps(PROFILE))
            assert ok.status_code == 204
        # A profile saved under a larger cap (the setting lowered since) is refused on load.
        async with live.app.state.ctx.sessionmaker() as s:
            row = await s.get(BrowserProfile, uuid.UUID(ann.id))
            assert row is not None
            from controlplane.rooms.profile_crypto import seal

            row.sealed = seal(
                settings.PROFILE_SECRET_KEY,
                uuid.UUID(ann.id),
                json.dumps(big).encode(),
                max_bytes=1 << 20,
            )
            await s.commit()
        _, anns = await profile_room(live, ann)
        async with agent_http(live, anns) as http:
            got = (await http.get("/internal/agents/profile")).json()
        assert got["profile"] is None and got["refused"] == "profile_too_large", got


async def test_forget_and_account_deletion_remove_it(live: Live) -> None:
    ann, ben = await signed_in(live.http), await signed_in(live.http)
    for who in (ann, ben):
        _, started = await profile_room(live, who)
        async with agent_http(live, started) as http:
            resp = await http.put("/internal/agents/profile", content=json.dumps(PROFILE))
            assert resp.is_success
    got = (await live.http.get("/api/users/me/profile", headers=ann.headers)).json()
    assert got["saved"] is True and got["bytes"] == len(json.dumps(PROFILE))
    resp = await live.http.delete("/api/users/me/profile", headers=ann.headers)
    assert resp.status_code == 204
    assert await row_of(live, ann) is None
    got = (await live.http.get("/api/users/me/profile", headers=ann.headers)).json()
    assert got == {"saved": False, "bytes": None, "updated_at": None}
    # Deleting the account deletes its profile (the foreign key cascades on both backends).
    async with live.app.state.ctx.sessionmaker() as s:
        await s.execute(delete(User).where(User.id == uuid.UUID(ben.id)))
        await s.commit()
        left = await s.execute(select(BrowserProfile))
        assert left.scalars().all() == []


async def test_only_the_host_drives_their_signed_in_browser_unless_they_allow_it(
    live: Live,
) -> None:
    ann, ben = await signed_in(live.http), await signed_in(live.http)
    room, _ = await profile_room(live, ann)
    await join(live.http, room["code"], ben.headers)
    host = await room_socket(live.ws_url, room["code"], ann.access_token)
    guest = await room_socket(live.ws_url, room["code"], ben.access_token)
    settings = guest.of_type("room.state")[-1]["data"]["settings"]
    assert settings["keep_profile"] is True and settings["profile_others_drive"] is False
    await host.send("remote.release")
    await host.expect("remote.changed", holder_id=None)
    await guest.send("remote.request")
    err = await guest.expect("error", code="profile_owner_only")
    assert "host" in err["data"]["detail"]
    await host.send("remote.request")
    await host.expect("remote.changed", holder_id=ann.id)
    await host.send("remote.pass", {"user_id": ben.id})
    await host.expect("error", code="profile_owner_only")
    # The host lets others drive: Ben may take it now.
    url = f"/api/rooms/{room['code']}/settings"
    resp = await live.http.patch(url, json={"profile_others_drive": True}, headers=ann.headers)
    assert resp.status_code == 200 and resp.json()["profile_others_drive"] is True
    await guest.expect("room.settings", profile_others_drive=True)
    await host.send("remote.pass", {"user_id": ben.id})
    await guest.expect("remote.changed", holder_id=ben.id)
    # ...and stops letting them: the remote goes back to the host at once.
    resp = await live.http.patch(url, json={"profile_others_drive": False}, headers=ann.headers)
    assert resp.status_code == 200
    await guest.expect("remote.changed", holder_id=ann.id)
    # The host role cannot be handed over with the host's profile in the browser.
    resp = await live.http.post(
        f"/api/rooms/{room['code']}/host", json={"user_id": ben.id}, headers=ann.headers
    )
    assert resp.status_code == 409 and resp.json()["code"] == "profile_room", resp.text
    await host.close()
    await guest.close()


async def test_the_warm_pool_never_hands_a_profiled_browser_to_someone_else(settings_factory):
    settings = await settings_factory(ROOM_WARM_POOL=1)
    async with live_server(settings) as live:
        first = await eventually(lambda: list(live.runtime.started.values()))
        warm = await agent_socket(live.agent_ws_url, first[0])
        assert warm.of_type("auth.ok")[-1]["data"]["keep_profile"] is False
        await warm.send("ready", {})
        # A warm browser is nobody's: it has no profile to load or save.
        async with agent_http(live, first[0]) as http:
            assert (await http.get("/internal/agents/profile")).status_code == 409
        ann, ben = await signed_in(live.http), await signed_in(live.http)
        await eventually(lambda: live.app.state.ctx.presence.agent(str(first[0].room_id)))
        room = await create_room(live.http, ann.headers, keep_profile=True)
        assert room["code"] == first[0].room_code  # the warm browser, now Ann's
        assigned = await warm.expect("room.assigned")
        assert assigned["data"]["keep_profile"] is True
        async with agent_http(live, first[0]) as http:
            put = await http.put("/internal/agents/profile", content=json.dumps(PROFILE))
            assert put.status_code == 204
            assert (await http.get("/internal/agents/profile")).json()["profile"] == PROFILE
        resp = await live.http.post(f"/api/rooms/{room['code']}/end", headers=ann.headers)
        assert resp.status_code == 200
        # Ended, the browser is gone for good: its secret fetches nothing any more...
        async with agent_http(live, first[0]) as http:
            assert (await http.get("/internal/agents/profile")).status_code == 410
        # ...and Ben's room, with the option, is another browser, with his (empty) profile.
        second = await eventually(
            lambda: [s for s in live.runtime.started.values() if s.room_id != first[0].room_id]
        )
        refill = await agent_socket(live.agent_ws_url, second[0])
        await refill.send("ready", {})
        await eventually(lambda: live.app.state.ctx.presence.agent(str(second[0].room_id)))
        bens = await create_room(live.http, ben.headers, keep_profile=True)
        assert bens["code"] != room["code"]
        started = live.runtime.started[bens["code"]]
        async with agent_http(live, started) as http:
            assert (await http.get("/internal/agents/profile")).json()["profile"] is None
        for sock in (warm, refill):
            await sock.close()
