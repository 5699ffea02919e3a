"""Accounts and sessions through the public API, on both storage backends."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx
import jwt
import pytest

from controlplane.auth.access_tokens import AUDIENCE as JWT_AUDIENCE
from tests.support.backends import TEST_SECRET
from tests.support.rooms import create_room
from tests.support.users import PASSWORD, deactivate, login, register, signed_in
from tests.support.waits import eventually


def assert_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code, body
    assert "detail" in body


async def test_register_returns_the_user_without_secrets(client):
    resp = await client.post(
        "/api/auth/register",
        json={"email": "Ann@Example.com", "username": "ann", "password": PASSWORD},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["username"] == "ann"
    assert body["email"].lower() == "ann@example.com"
    uuid.UUID(body["id"])
    assert body["is_superuser"] is False and body["is_active"] is True
    assert "password" not in resp.text and "hashed" not in resp.text


async def test_register_cannot_make_itself_superuser(client):
    resp = await client.post(
        "/api/auth/register",
        json={
            "email": "x@example.com",
            "username": "xx1",
            "password": PASSWORD,
            "is_superuser": True,
        },
    )
    assert_error(resp, 422, "validation_error")


async def test_duplicate_email_and_username_are_conflicts(client):
    await register(client, username="dup")
    same_email = await client.post(
        "/api/auth/register",
        json={"email": "DUP@example.com", "username": "other", "password": PASSWORD},
    )
    assert_error(same_email, 409, "email_taken")
    same_name = await client.post(
        "/api/auth/register",
        json={"email": "new@example.com", "username": "DUP", "password": PASSWORD},
    )
    assert_error(same_name, 409, "username_taken")


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "at least"), ("password1", "common"), ("mynameisweakling-9", "username")],
)
async def test_weak_passwords_are_refused_with_a_reason(client, password, reason):
    resp = await client.post(
        "/api/auth/register",
        json={"email": "w@example.com", "username": "weakling", "password": password},
    )
    assert_error(resp, 400, "weak_password")
    assert reason in resp.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "username": "abc", "password": PASSWORD},
        {"email": "a@example.com", "username": "a b", "password": PASSWORD},
        {"email": "a@example.com", "username": "ab", "password": PASSWORD},
        {"email": "a@example.com", "username": "x" * 33, "password": PASSWORD},
        {"email": "a@example.com", "username": "abc", "password": "p" * 129},
        {"email": ("e" * 250) + "@example.com", "username": "abc", "password": PASSWORD},
        {"email": 5, "username": ["abc"], "password": None},
        {"username": "abc"},
    ],
)
async def test_register_bad_fields_are_422(client, body):
    assert_error(await client.post("/api/auth/register", json=body), 422, "validation_error")


async def test_malformed_json_is_422_not_500(client):
    resp = await client.post(
        "/api/auth/register", content=b'{"email": "a@', headers={"content-type": "application/json"}
    )
    assert_error(resp, 422, "validation_error")
    resp = await client.post(
        "/api/auth/refresh", content=b"[1,2", headers={"content-type": "application/json"}
    )
    assert_error(resp, 422, "validation_error")


async def test_login_by_email_or_username(client):
    user = await register(client, username="logmein")
    for ident in ("logmein", "LOGMEIN", user["email"], user["email"].upper()):
        tokens = await login(client, ident)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 15 * 60
        me = await client.get(
            "/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["id"] == user["id"]


async def test_access_token_lives_fifteen_minutes(client):
    tokens = await login(client, (await register(client))["username"])
    claims = jwt.decode(
        tokens["access_token"], TEST_SECRET, algorithms=["HS256"], audience=JWT_AUDIENCE
    )
    assert 15 * 60 - 5 <= claims["exp"] - time.time() <= 15 * 60


async def test_wrong_password_and_unknown_user_look_the_same(client):
    await register(client, username="victim")
    wrong = await client.post(
        "/api/auth/login", data={"username": "victim", "password": "nope-nope-nope"}
    )
    unknown = await client.post(
        "/api/auth/login", data={"username": "nobody", "password": "nope-nope-nope"}
    )
    assert_error(wrong, 401, "bad_credentials")
    assert_error(unknown, 401, "bad_credentials")
    assert wrong.json() == unknown.json()


async def test_login_bad_inputs(client):
    assert_error(
        await client.post("/api/auth/login", data={"username": "x"}), 422, "validation_error"
    )
    assert_error(
        await client.post("/api/auth/login", json={"username": "x", "password": "y"}),
        422,
        "validation_error",
    )
    long = await client.post("/api/auth/login", data={"username": "x" * 300, "password": "y"})
    assert_error(long, 422, "validation_error")


async def test_refresh_rotates_and_the_old_token_stops_working(client):
    user = await signed_in(client)
    first = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["refresh_token"] != user.refresh_token
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200
    second = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


async def test_refresh_reuse_revokes_the_whole_session(client):
    user = await signed_in(client)
    rotated = (
        await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    ).json()
    # An attacker (or a replay) presents the already-used token: the session dies...
    reuse = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_error(reuse, 401, "refresh_token_reused")
    # ...including the newest token the legitimate client holds.
    after = await client.post("/api/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_error(after, 401, "invalid_refresh_token")
    # The session is gone: its access tokens stop too, and a new login lists only itself.
    assert_error(
        await client.get("/api/users/me/sessions", headers=user.headers), 401, "invalid_token"
    )
    fresh = await login(client, user.username)
    sessions = await client.get(
        "/api/users/me/sessions", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert len(sessions.json()) == 1


async def test_concurrent_refresh_with_one_token_yields_at_most_one_winner(client):
    user = await signed_in(client)
    results = await asyncio.gather(
        *[
            client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
            for _ in range(5)
        ]
    )
    assert sum(r.status_code == 200 for r in results) <= 1
    assert all(r.status_code in (200, 401) for r in results)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", f"{uuid.uuid4()}.0.AAAA", f"{uuid.uuid4()}.-1.x", "x" * 300],
)
async def test_bad_refresh_tokens(client, token):
    resp = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert resp.status_code in (401, 422), resp.text
    assert resp.json()["code"] in ("invalid_refresh_token", "validation_error")


async def test_tampered_refresh_token_is_refused(client):
    user = await signed_in(client)
    sid, gen, mac = user.refresh_token.split(".")
    forged_next = f"{sid}.{int(gen) + 1}.{mac}"
    flipped = f"{sid}.{gen}.{mac[:-2]}{'AB' if mac[-2:] != 'AB' else 'CD'}"
    for token in (forged_next, flipped):
        assert_error(
            await client.post("/api/auth/refresh", json={"refresh_token": token}),
            401,
            "invalid_refresh_token",
        )
    # The genuine token still works: a forgery is not mistaken for reuse.
    assert (
        await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    ).status_code == 200


async def test_logout_revokes_the_session(client):
    user = await signed_in(client)
    resp = await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert resp.status_code == 204
    assert_error(
        await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token}),
        401,
        "invalid_refresh_token",
    )
    assert_error(
        await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token}),
        401,
        "invalid_refresh_token",
    )


async def test_sessions_are_listed_and_revocable(client):
    user = await signed_in(client)
    second = await client.post(
        "/api/auth/login",
        data={"username": user.username, "password": PASSWORD},
        headers={"user-agent": "phone/1.0"},
    )
    second_refresh = second.json()["refresh_token"]
    sessions = (await client.get("/api/users/me/sessions", headers=user.headers)).json()
    assert len(sessions) == 2
    assert {s["user_agent"] for s in sessions} >= {"phone/1.0"}
    assert all(s["ip"] == "203.0.113.7" for s in sessions)
    phone = next(s for s in sessions if s["user_agent"] == "phone/1.0")
    assert (
        await client.delete(f"/api/users/me/sessions/{phone['id']}", headers=user.headers)
    ).status_code == 204
    assert_error(
        await client.post("/api/auth/refresh", json={"refresh_token": second_refresh}),
        401,
        "invalid_refresh_token",
    )
    remaining = (await client.get("/api/users/me/sessions", headers=user.headers)).json()
    assert [s["id"] for s in remaining] == [s["id"] for s in sessions if s["id"] != phone["id"]]
    # Another user's session id, an unknown id and a malformed id.
    other = await signed_in(client)
    other_sid = (await client.get("/api/users/me/sessions", headers=other.headers)).json()[0]["id"]
    assert_error(
        await client.delete(f"/api/users/me/sessions/{other_sid}", headers=user.headers),
        404,
        "session_not_found",
    )
    assert_error(
        await client.delete(f"/api/users/me/sessions/{uuid.uuid4()}", headers=user.headers),
        404,
        "session_not_found",
    )
    assert_error(
        await client.delete("/api/users/me/sessions/nope", headers=user.headers),
        422,
        "validation_error",
    )


async def test_sessions_survive_an_api_restart(settings, client):
    import httpx

    from controlplane.main import create_app

    user = await signed_in(client)
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as fresh:
            resp = await fresh.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
            assert resp.status_code == 200, resp.text


async def test_access_tokens_expired_tampered_or_missing(client):
    user = await signed_in(client)
    expired = jwt.encode(
        {"sub": user.id, "aud": JWT_AUDIENCE, "exp": int(time.time()) - 5},
        TEST_SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": user.id, "aud": JWT_AUDIENCE, "exp": int(time.time()) + 600},
        "wrong-key-of-32-bytes-or-more-0000",
        algorithm="HS256",
    )
    head, payload, sig = user.access_token.split(".")
    tampered = f"{head}.{payload}.{sig[::-1]}"
    for token in (expired, forged, tampered, "not.a.jwt", "x" * 5000):
        resp = await client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(resp, 401, "invalid_token")
    assert_error(await client.get("/api/users/me"), 401, "not_authenticated")


async def test_patch_me(client):
    user = await signed_in(client)
    renamed = await client.patch(
        "/api/users/me", json={"username": "renamed_1"}, headers=user.headers
    )
    assert renamed.status_code == 200 and renamed.json()["username"] == "renamed_1"
    # Password and e-mail changes need the current password.
    assert_error(
        await client.patch(
            "/api/users/me", json={"password": "another-long-pass-7"}, headers=user.headers
        ),
        400,
        "current_password_required",
    )
    assert_error(
        await client.patch(
            "/api/users/me",
            json={"password": "another-long-pass-7", "current_password": "wrong"},
            headers=user.headers,
        ),
        400,
        "bad_current_password",
    )
    ok = await client.patch(
        "/api/users/me",
        json={"password": "another-long-pass-7", "current_password": PASSWORD},
        headers=user.headers,
    )
    assert ok.status_code == 200
    await login(client, "renamed_1", "another-long-pass-7")
    assert (
        await client.post("/api/auth/login", data={"username": "renamed_1", "password": PASSWORD})
    ).status_code == 401
    other = await signed_in(client)
    assert_error(
        await client.patch("/api/users/me", json={"username": "renamed_1"}, headers=other.headers),
        409,
        "username_taken",
    )
    assert_error(
        await client.patch(
            "/api/users/me",
            json={"email": user.email, "current_password": PASSWORD},
            headers=other.headers,
        ),
        409,
        "email_taken",
    )
    assert_error(
        await client.patch("/api/users/me", json={"is_superuser": True}, headers=other.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.patch(
            "/api/users/me",
            json={"password": "short", "current_password": PASSWORD},
            headers=other.headers,
        ),
        400,
        "weak_password",
    )


async def test_login_rate_limit_per_account(settings_factory):
    from tests.support.apps import client_for

    settings = await settings_factory(RATE_LIMIT_LOGIN_PER_MINUTE=3)
    async with client_for(settings) as client:
        await register(client, username="limited")
        codes = [
            (
                await client.post(
                    "/api/auth/login", data={"username": "limited", "password": "bad-guess-123"}
                )
            ).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        blocked = await client.post(
            "/api/auth/login", data={"username": "limited", "password": PASSWORD}
        )
        assert_error(blocked, 429, "rate_limited")
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        # Another account from the same IP is not locked out by this one's counter.
        await register(client, username="neighbour")
        assert (
            await client.post(
                "/api/auth/login", data={"username": "neighbour", "password": PASSWORD}
            )
        ).status_code == 200


async def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(settings_factory):
    """Issue 19 #9: the limit on guessing holds for the guesser, but the owner still signs in
    with the right password from another address, and from a browser they signed in with before
    (its device cookie) even while many addresses guess at once. Each client has its own
    loopback address, as the real server sees it."""
    from contextlib import AsyncExitStack

    from controlplane.auth.login_guard import DEVICE_COOKIE
    from tests.support.rooms import live_server

    settings = await settings_factory(RATE_LIMIT_LOGIN_PER_MINUTE=3, RATE_LIMIT_IP_MULTIPLIER=2)
    async with live_server(settings) as srv, AsyncExitStack() as stack:

        async def client(last_octet: int) -> httpx.AsyncClient:
            transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{last_octet}")
            http = httpx.AsyncClient(base_url=srv.url, transport=transport, timeout=30)
            return await stack.enter_async_context(http)

        async def attempt(http: httpx.AsyncClient, password: str) -> int:
            form = {"username": "owner", "password": password}
            return (await http.post("/api/auth/login", data=form)).status_code

        await register(srv.http, username="owner")
        laptop = await client(2)  # the owner's browser: signed in before
        assert await attempt(laptop, PASSWORD) == 200
        # a stranger guesses from one address: refused there, the right password too
        stranger = await client(3)
        assert [await attempt(stranger, f"guess-{i}-wrong") for i in range(3)] == [401] * 3
        assert await attempt(stranger, PASSWORD) == 429
        # the owner, from another address with no cookie: in
        assert await attempt(await client(4), PASSWORD) == 200
        # strangers from many addresses spend the account's total (3 x 2 a minute)...
        for octet in (5, 6, 7):
            guesser = await client(octet)
            for i in range(3):
                await attempt(guesser, f"guess-{octet}-{i}")
        assert await attempt(await client(8), PASSWORD) == 429  # ...new addresses wait
        # ...but the owner's own browser still gets in
        assert laptop.cookies.get(DEVICE_COOKIE)
        assert await attempt(laptop, PASSWORD) == 200
        # a device cookie is not an unlimited budget either (3 a minute, that sign-in counted),
        # nor a pass for another account
        assert [await attempt(laptop, f"guess-l{i}") for i in range(2)] == [401] * 2
        assert await attempt(laptop, PASSWORD) == 429
        await register(srv.http, username="neighbour2")
        form = {"username": "neighbour2", "password": PASSWORD}
        assert (await laptop.post("/api/auth/login", data=form)).status_code == 200
        # a forged cookie is no pass
        forged = await client(9)
        forged.cookies.set(DEVICE_COOKIE, laptop.cookies.get(DEVICE_COOKIE)[:-2] + "xx")
        assert await attempt(forged, PASSWORD) == 429


async def test_wrong_current_passwords_are_throttled_like_login(settings_factory):
    """Issue 19 #10: `PATCH /api/users/me` checks `current_password`; a stolen access token must
    not make it an unlimited password oracle. Every check counts per user (before the password is
    looked at, so parallel guesses cannot all pass together); past the login limit every check
    answers 429, the right password too, until the minute ends."""
    from tests.support.rooms import live_server

    settings = await settings_factory(RATE_LIMIT_LOGIN_PER_MINUTE=3)
    async with live_server(settings) as srv:
        victim, other = await signed_in(srv.http), await signed_in(srv.http)
        for i in range(3):
            resp = await srv.http.patch(
                "/api/users/me",
                json={"current_password": f"guess-{i}-wrong", "password": "New-Passw0rd-xyz"},
                headers=victim.headers,
            )
            assert_error(resp, 400, "bad_current_password")
        for current in ("guess-9-wrong", PASSWORD):
            resp = await srv.http.patch(
                "/api/users/me",
                json={"current_password": current, "email": "moved@example.com"},
                headers=victim.headers,
            )
            assert_error(resp, 429, "rate_limited")
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
        me = await srv.http.get("/api/users/me", headers=victim.headers)
        assert me.json()["email"] == victim.email  # nothing changed
        # another user is not affected
        for i in range(2):
            resp = await srv.http.patch(
                "/api/users/me",
                json={"current_password": PASSWORD, "email": f"moved-{i}-{other.email}"},
                headers=other.headers,
            )
            assert resp.status_code == 200, resp.text


async def test_parallel_current_password_guesses_get_the_limit_and_no_more(settings_factory):
    """Guesses sent at once (a stolen token, many requests in flight) are counted before any of
    them is checked: the limit's worth are answered, the rest refused."""
    from tests.support.rooms import live_server

    settings = await settings_factory(RATE_LIMIT_LOGIN_PER_MINUTE=3)
    async with live_server(settings) as srv:
        victim = await signed_in(srv.http)
        answers = await asyncio.gather(
            *(
                srv.http.patch(
                    "/api/users/me",
                    json={"current_password": f"guess-{i}-wrong", "password": "New-Passw0rd-xyz"},
                    headers=victim.headers,
                )
                for i in range(12)
            )
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [400] * 3 + [429] * 9


async def test_login_rate_limit_counts_every_spelling_of_one_account(settings_factory):
    """Issue 11 #5: `" limited"` must not be a fresh budget when the lookup strips it."""
    from tests.support.apps import client_for

    settings = await settings_factory(RATE_LIMIT_LOGIN_PER_MINUTE=3)
    async with client_for(settings) as client:
        await register(client, username="spelled")
        codes = [
            (
                await client.post(
                    "/api/auth/login", data={"username": name, "password": "bad-guess-123"}
                )
            ).status_code
            for name in ("spelled", " spelled", "SPELLED\t", "Spelled ")
        ]
        assert codes == [401, 401, 401, 429]


async def test_forwarded_for_takes_the_hop_the_trusted_proxy_appended(settings_factory):
    """Issue 11 #5: a client choosing the left-most X-Forwarded-For entry gets no new budget."""
    from tests.support.apps import client_for

    settings = await settings_factory(
        TRUST_PROXY_HEADERS=True,
        TRUSTED_PROXY_CIDRS="10.0.0.0/29",
        RATE_LIMIT_FORGOT_PER_HOUR=2,
        RATE_LIMIT_IP_MULTIPLIER=1,
    )
    async with client_for(settings, ip="10.0.0.2") as client:
        codes = [
            (
                await client.post(
                    "/api/auth/forgot-password",
                    json={"email": f"n{i}@example.com"},
                    headers={"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.7"},
                )
            ).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 429]
        # another client behind the same proxy has its own budget
        other = await client.post(
            "/api/auth/forgot-password",
            json={"email": "n9@example.com"},
            headers={"X-Forwarded-For": "198.51.100.8"},
        )
        assert other.status_code == 202


async def test_forwarded_for_lines_a_proxy_added_count_as_one_list(settings_factory):
    """A proxy that adds its own X-Forwarded-For line (HAProxy's `option forwardfor`) after the
    client's: the hop it wrote is the client, not the client's own line that comes first."""
    from tests.support.apps import client_for

    settings = await settings_factory(
        TRUST_PROXY_HEADERS=True,
        TRUSTED_PROXY_CIDRS="10.0.0.0/29",
        RATE_LIMIT_FORGOT_PER_HOUR=2,
        RATE_LIMIT_IP_MULTIPLIER=1,
    )
    async with client_for(settings, ip="10.0.0.2") as client:
        codes = [
            (
                await client.post(
                    "/api/auth/forgot-password",
                    json={"email": f"l{i}@example.com"},
                    headers=[
                        ("X-Forwarded-For", f"192.0.2.{i}"),
                        ("X-Forwarded-For", "198.51.100.7"),
                    ],
                )
            ).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 429]


async def test_forwarded_for_from_an_untrusted_peer_changes_nothing(settings_factory, caplog):
    """Issue 19 #12: with TRUST_PROXY_HEADERS on, a client that reaches the API directly (its
    address not in TRUSTED_PROXY_CIDRS) and writes X-Forwarded-For is still itself: for the
    per-address budget and in the logs."""
    from tests.support.apps import client_for

    settings = await settings_factory(
        TRUST_PROXY_HEADERS=True,
        TRUSTED_PROXY_CIDRS="10.0.0.0/29",
        RATE_LIMIT_FORGOT_PER_HOUR=2,
        RATE_LIMIT_IP_MULTIPLIER=1,
    )
    async with client_for(settings, ip="203.0.113.60") as client:
        codes = [
            (
                await client.post(
                    "/api/auth/forgot-password",
                    json={"email": f"s{i}@example.com"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 429]
        await register(client, username="spoofer")
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for password in ("wrong-password-1", PASSWORD):
                await client.post(
                    "/api/auth/login",
                    data={"username": "spoofer", "password": password},
                    headers={"X-Forwarded-For": "192.0.2.99"},
                )
        logged = {r.ip for r in caplog.records if hasattr(r, "ip")}  # type: ignore[attr-defined]
        assert logged == {"203.0.113.60"}


def test_a_live_server_believes_forwarded_for_only_from_its_proxies(tmp_path):
    """Issue 19 #12, through uvicorn as served: a loopback peer that is not a configured proxy
    (uvicorn by itself trusts 127.0.0.1) cannot pick its address with X-Forwarded-For; from a
    configured proxy the header counts."""
    from tests.support.servers import run_server

    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "TRUST_PROXY_HEADERS": "true",
        "TRUSTED_PROXY_CIDRS": "192.0.2.0/24",
        "RATE_LIMIT_FORGOT_PER_HOUR": "2",
        "RATE_LIMIT_IP_MULTIPLIER": "1",
    }
    with run_server(env, log_dir=tmp_path, migrate=True) as server:
        codes = [
            httpx.post(
                f"{server.url}/api/auth/forgot-password",
                json={"email": f"l{i}@example.com"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 429]
    env["TRUSTED_PROXY_CIDRS"] = "127.0.0.0/8"
    with run_server(env, log_dir=tmp_path, migrate=True) as server:
        codes = [
            httpx.post(
                f"{server.url}/api/auth/forgot-password",
                json={"email": f"m{i}@example.com"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 202]  # three clients behind the proxy, a budget each


async def test_rate_limits_per_ip_for_register_and_forgot(settings_factory):
    from tests.support.apps import client_for

    settings = await settings_factory(
        RATE_LIMIT_REGISTER_PER_HOUR=2, RATE_LIMIT_FORGOT_PER_HOUR=2, RATE_LIMIT_IP_MULTIPLIER=1
    )
    async with client_for(settings) as client:
        await register(client)
        await register(client)
        third = await client.post(
            "/api/auth/register",
            json={"email": "z@example.com", "username": "zzz", "password": PASSWORD},
        )
        assert_error(third, 429, "rate_limited")
        assert "Retry-After" in third.headers
        for _ in range(2):
            assert (
                await client.post("/api/auth/forgot-password", json={"email": "q@example.com"})
            ).status_code == 202
        assert_error(
            await client.post("/api/auth/forgot-password", json={"email": "q@example.com"}),
            429,
            "rate_limited",
        )


async def test_refresh_rate_limit(settings_factory):
    from tests.support.apps import client_for

    settings = await settings_factory(RATE_LIMIT_REFRESH_PER_MINUTE=2)
    async with client_for(settings) as client:
        user = await signed_in(client)
        token = user.refresh_token
        for _ in range(2):
            token = (await client.post("/api/auth/refresh", json={"refresh_token": token})).json()[
                "refresh_token"
            ]
        assert_error(
            await client.post("/api/auth/refresh", json={"refresh_token": token}),
            429,
            "rate_limited",
        )


async def test_forgot_password_never_reveals_accounts(client):
    await register(client, username="exists")
    known = await client.post("/api/auth/forgot-password", json={"email": "exists@example.com"})
    unknown = await client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()


async def test_reset_password_bad_tokens(client):
    for token in ("nope", "a.b.c", "x" * 2048):
        resp = await client.post(
            "/api/auth/reset-password", json={"token": token, "password": "brand-new-pass-1"}
        )
        assert_error(resp, 400, "invalid_reset_token")
    assert_error(
        await client.post("/api/auth/reset-password", json={"token": "x" * 3000, "password": "p"}),
        422,
        "validation_error",
    )


async def test_every_error_is_json_with_a_code(client):
    for resp in (
        await client.get("/api/nowhere"),
        await client.put("/api/auth/login"),
        await client.post(
            "/api/auth/register", content=b"x", headers={"content-type": "text/plain"}
        ),
    ):
        assert resp.status_code in (404, 405, 415, 422), resp.text
        assert set(resp.json()) >= {"detail", "code"}


async def test_readyz_and_metrics(client, backend):
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    expected = {"database"} | ({"redis"} if backend == "pg_redis" else set())
    assert set(ready.json()["checks"]) == expected
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "watchparty_http_requests_total" in metrics.text
    assert (await client.get("/healthz")).headers["x-request-id"]
    assert (await client.get("/healthz", headers={"x-request-id": "abc-123"})).headers[
        "x-request-id"
    ] == "abc-123"


async def test_metrics_can_require_a_bearer_token(settings_factory):
    """Issue 11 #10: with METRICS_TOKEN set, /metrics answers only the scraper holding it."""
    import httpx

    from controlplane.main import create_app

    token = "scrape-token-0123456789"
    app = create_app(await settings_factory(METRICS_TOKEN=token))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                refused = await c.get("/metrics", headers=headers)
                assert refused.status_code == 401, headers
                assert "watchparty_" not in refused.text
            ok = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "watchparty_http_requests_total" in ok.text
            assert (await c.get("/healthz")).status_code == 200


async def test_security_headers(client):
    resp = await client.get("/healthz")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in resp.headers["content-security-policy"]


async def test_readyz_names_what_is_unreachable(settings_factory, backend):
    from tests.support.apps import client_for
    from tests.support.smtp import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = await settings_factory()
    broken = settings.model_copy(update={"REDIS_URL": dead})
    async with client_for(broken) as client:
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["code"] == "dependency_unreachable"
        assert body["checks"]["redis"].startswith("unreachable")
        assert body["checks"]["database"] == "ok"
        assert "redis" in body["detail"]


async def test_forgot_password_answers_before_the_lookup_and_the_mail(settings_factory):
    """Issue 11 #6: a known address must not take longer to answer than an unknown one."""
    import httpx

    from controlplane.main import create_app

    settings = await settings_factory()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        sent: list[str] = []
        relay_answers = asyncio.Event()

        async def slow_mail(*, to: str, subject: str, body: str) -> None:
            await relay_answers.wait()  # a slow SMTP relay, a busy broker: as slow as it likes
            sent.append(to)

        ctx.jobs.send_email = slow_mail
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await register(client, username="timed")
            # The answer comes while the relay has not answered yet (a request that waited for
            # the e-mail would wait for ever: the deadline says so, whatever the box's load).
            known = await asyncio.wait_for(
                client.post("/api/auth/forgot-password", json={"email": "timed@example.com"}),
                timeout=30,
            )
            assert known.status_code == 202
            assert sent == []
            relay_answers.set()  # and the e-mail still goes out, after the answer
            await eventually(lambda: sent, what="the reset e-mail sent")
            assert sent == ["timed@example.com"]


async def test_a_password_change_ends_every_other_session_but_not_this_one(client):
    """Issue 11 #4: the phone's refresh token stops working once the laptop changes the
    password; the laptop's own session (named in its access token) keeps refreshing."""
    user = await signed_in(client)
    phone = await login(client, user.username)
    tablet = await login(client, user.username)
    new = "another-horse-battery-7"
    resp = await client.patch(
        "/api/users/me",
        json={"password": new, "current_password": PASSWORD},
        headers=user.headers,
    )
    assert resp.status_code == 200, resp.text
    for other in (phone, tablet):
        refreshed = await client.post(
            "/api/auth/refresh", json={"refresh_token": other["refresh_token"]}
        )
        assert_error(refreshed, 401, "invalid_refresh_token")
    mine = await client.post("/api/auth/refresh", json={"refresh_token": user.refresh_token})
    assert mine.status_code == 200, mine.text
    sessions = await client.get(
        "/api/users/me/sessions",
        headers={"Authorization": f"Bearer {mine.json()['access_token']}"},
    )
    assert len(sessions.json()) == 1
    # a change of the username alone ends nothing
    again = await login(client, user.username, new)
    renamed = await client.patch(
        "/api/users/me", json={"username": f"{user.username}x"}, headers=user.headers
    )
    assert renamed.status_code == 200
    kept = await client.post("/api/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert kept.status_code == 200, kept.text


async def test_access_tokens_name_their_session(client):
    user = await signed_in(client)
    claims = jwt.decode(user.access_token, TEST_SECRET, algorithms=["HS256"], audience=JWT_AUDIENCE)
    sessions = (await client.get("/api/users/me/sessions", headers=user.headers)).json()
    assert [s["id"] for s in sessions] == [claims["sid"]]


async def test_rest_refuses_the_access_token_of_a_session_a_password_change_ended(client):
    """Issue 11 #4, REST side: the phone's access token (still unexpired) stops working on every
    endpoint the moment the laptop changes the password, not 15 minutes later."""
    laptop = await signed_in(client)
    phone = {"Authorization": f"Bearer {(await login(client, laptop.username))['access_token']}"}
    room = await create_room(client, laptop.headers)
    for path in ("/api/users/me", f"/api/rooms/{room['code']}"):
        assert (await client.get(path, headers=phone)).status_code == 200
    resp = await client.patch(
        "/api/users/me",
        json={"password": "another-horse-battery-7", "current_password": PASSWORD},
        headers=laptop.headers,
    )
    assert resp.status_code == 200, resp.text
    for path in ("/api/users/me", f"/api/rooms/{room['code']}", "/api/rooms"):
        assert_error(await client.get(path, headers=phone), 401, "invalid_token")
    assert_error(
        await client.post("/api/rooms", json={"title": "t"}, headers=phone), 401, "invalid_token"
    )
    # the laptop's own session goes on
    assert (
        await client.get(f"/api/rooms/{room['code']}", headers=laptop.headers)
    ).status_code == 200


async def test_rest_refuses_a_logged_out_or_deactivated_access_token(settings, client):
    user = await signed_in(client)
    other = await login(client, user.username)
    resp = await client.post("/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert resp.status_code == 204
    assert_error(await client.get("/api/users/me", headers=user.headers), 401, "invalid_token")
    # the user's other session is not the one that logged out
    still = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.get("/api/users/me", headers=still)).status_code == 200
    await deactivate(settings.database_url, user.id)
    assert_error(await client.get("/api/users/me", headers=still), 401, "invalid_token")
