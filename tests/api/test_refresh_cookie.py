"""Issue 19 #13: the web app's refresh token lives in an HttpOnly, Secure, SameSite=Strict
cookie scoped to the refresh and logout paths (X-Token-Transport: cookie), never in a body its
scripts read; API clients keep the JSON bodies. The app's CSP names its own WebSocket origin
only, and HSTS goes out when PUBLIC_URL is https."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx

from tests.support.users import PASSWORD, register

COOKIE_MODE = {"X-Token-Transport": "cookie"}


def refresh_headers(resp: httpx.Response) -> list[str]:
    """The response's Set-Cookie lines for the refresh cookie (login also sets `wp_device`)."""
    return [h for h in resp.headers.get_list("set-cookie") if h.startswith("wp_refresh=")]


def set_cookies(resp: httpx.Response) -> list[SimpleCookie]:
    jars = []
    for header in refresh_headers(resp):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        jars.append(jar)
    return jars


def refresh_cookie(resp: httpx.Response) -> str:
    """The cookie's value, checked the same on both paths."""
    values = {jar["wp_refresh"].value for jar in set_cookies(resp)}
    assert len(values) == 1, resp.headers.get_list("set-cookie")
    return values.pop()


async def cookie_login(client: httpx.AsyncClient) -> httpx.Response:
    user = await register(client)
    return await client.post(
        "/api/auth/login",
        data={"username": user["username"], "password": PASSWORD},
        headers=COOKIE_MODE,
    )


async def test_login_sets_an_httponly_secure_strict_cookie_on_two_paths(client):
    resp = await cookie_login(client)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["refresh_token"] is None and body["access_token"]
    headers = refresh_headers(resp)
    assert len(headers) == 2
    paths = set()
    for header, jar in zip(headers, set_cookies(resp), strict=True):
        morsel = jar["wp_refresh"]
        assert morsel["httponly"] is True and morsel["secure"] is True, header
        assert morsel["samesite"].lower() == "strict", header
        assert int(morsel["max-age"]) == 7 * 86400, header
        assert "domain" not in header.lower()  # host-only
        paths.add(morsel["path"])
    assert paths == {"/api/auth/refresh", "/api/auth/logout"}
    assert refresh_cookie(resp).count(".") == 2  # `<session id>.<generation>.<secret>`


async def test_refresh_by_cookie_rotates_it_and_a_replayed_cookie_revokes(client):
    first = refresh_cookie(await cookie_login(client))
    rotated = await client.post(
        "/api/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={first}"}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] is None
    second = refresh_cookie(rotated)
    assert second != first and second.split(".")[0] == first.split(".")[0]
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"}
    )
    assert me.status_code == 200
    replayed = await client.post(
        "/api/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={first}"}
    )
    assert replayed.status_code == 401
    gone = await client.post(
        "/api/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={second}"}
    )
    assert gone.status_code == 401  # the reuse revoked the whole session


async def test_the_cookie_is_not_read_without_the_header(client):
    """A cross-site form or a simple cross-origin fetch cannot send X-Token-Transport."""
    token = refresh_cookie(await cookie_login(client))
    for headers in ({"Cookie": f"wp_refresh={token}"}, {}):
        refused = await client.post("/api/auth/refresh", headers=headers)
        assert refused.status_code in (401, 422), refused.text
        assert not refused.headers.get_list("set-cookie")
    still = await client.post(
        "/api/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={token}"}
    )
    assert still.status_code == 200  # the refused attempts did not spend it


async def test_api_clients_keep_the_json_bodies(client):
    user = await register(client)
    login = await client.post(
        "/api/auth/login", data={"username": user["username"], "password": PASSWORD}
    )
    assert login.status_code == 200 and not refresh_headers(login)
    token = login.json()["refresh_token"]
    assert token
    rotated = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] not in (None, token)
    assert not rotated.headers.get_list("set-cookie")
    out = await client.post(
        "/api/auth/logout", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert out.status_code == 204


async def test_a_stored_body_token_moves_into_the_cookie(client):
    """The web app's one-time move off localStorage: body token in, cookie out."""
    user = await register(client)
    token = (
        await client.post(
            "/api/auth/login", data={"username": user["username"], "password": PASSWORD}
        )
    ).json()["refresh_token"]
    moved = await client.post(
        "/api/auth/refresh", json={"refresh_token": token}, headers=COOKIE_MODE
    )
    assert moved.status_code == 200 and moved.json()["refresh_token"] is None
    assert refresh_cookie(moved).split(".")[0] == token.split(".")[0]


async def test_logout_by_cookie_ends_the_session_and_clears_the_cookie(client):
    token = refresh_cookie(await cookie_login(client))
    out = await client.post(
        "/api/auth/logout", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={token}"}
    )
    assert out.status_code == 204
    cleared = set_cookies(out)
    assert len(cleared) == 2
    assert {jar["wp_refresh"]["path"] for jar in cleared} == {
        "/api/auth/refresh",
        "/api/auth/logout",
    }
    assert all(
        jar["wp_refresh"].value == "" and jar["wp_refresh"]["max-age"] == "0" for jar in cleared
    )
    after = await client.post(
        "/api/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"wp_refresh={token}"}
    )
    assert after.status_code == 401
    # logging out again (no cookie, or a dead one) still answers 204 and clears it
    again = await client.post("/api/auth/logout", headers=COOKIE_MODE)
    assert again.status_code == 204 and len(set_cookies(again)) == 2


def directives(csp: str) -> dict[str, list[str]]:
    parts = [d.strip().split() for d in csp.split(";") if d.strip()]
    return {p[0]: p[1:] for p in parts}


async def test_csp_connects_to_its_own_origin_and_websocket_only(client, settings):
    """No bare `ws: wss:` (any host); PUBLIC_URL's WebSocket origin exactly."""
    csp = directives((await client.get("/")).headers["content-security-policy"])
    assert settings.PUBLIC_URL == "http://localhost:8000"
    assert csp["connect-src"] == ["'self'", "ws://localhost:8000"]
    assert "strict-transport-security" not in (await client.get("/healthz")).headers


async def test_https_public_url_gets_hsts_and_wss(settings_factory):
    from tests.support.apps import client_for

    settings = await settings_factory(PUBLIC_URL="https://watch.example.com")
    async with client_for(settings) as client:
        for path in ("/", "/healthz", "/api/docs"):
            resp = await client.get(path)
            assert resp.headers["strict-transport-security"] == "max-age=63072000", path
        csp = directives((await client.get("/login")).headers["content-security-policy"])
        assert csp["connect-src"] == ["'self'", "wss://watch.example.com"]
