"""The control plane serves the built web app on its own port without shadowing the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controlplane.main import create_app
from controlplane.web import resolve_asset
from tests.support.backends import embedded_settings

INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js">'
    "</script></head></html>"
)


def make_dist(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('app')")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return root


async def client_for(tmp_path: Path, web_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = await embedded_settings(tmp_path / "data", WEB_DIR=web_dir)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(tmp_path, make_dist(tmp_path / "dist")):
        yield c


@pytest.mark.parametrize(
    "path", ["/", "/login", "/dashboard", "/room/k7qm3xtp", "/reset-password?token=x"]
)
async def test_app_routes_get_the_app_revalidated_under_the_strict_csp(
    web: httpx.AsyncClient, path: str
) -> None:
    resp = await web.get(path)
    assert resp.status_code == 200 and resp.text == INDEX
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-cache"
    csp = resp.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert resp.headers["x-frame-options"] == "DENY"


async def test_hashed_assets_are_cached_for_a_year(web: httpx.AsyncClient) -> None:
    resp = await web.get("/assets/app-1a2b3c.js")
    assert resp.status_code == 200 and "console.log" in resp.text
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in resp.headers["content-type"]
    other = await web.get("/favicon.svg")
    assert other.status_code == 200 and "immutable" not in other.headers["cache-control"]


async def test_missing_files_are_404_not_the_app(web: httpx.AsyncClient) -> None:
    for path in ("/assets/app-old.js", "/robots.txt", "/assets/"):
        resp = await web.get(path)
        assert resp.status_code == 404, path
        assert resp.text != INDEX


def test_files_outside_the_build_are_never_served(tmp_path: Path) -> None:
    root = make_dist(tmp_path / "dist").resolve()
    (tmp_path / "secret.txt").write_text("no")
    assert resolve_asset(root, "../secret.txt") is None
    assert resolve_asset(root, "assets/../../secret.txt") is None
    assert resolve_asset(root, "assets") is None  # a folder
    assert resolve_asset(root, "assets/app-1a2b3c.js") == root / "assets" / "app-1a2b3c.js"


async def test_the_api_is_never_shadowed(web: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/nope"),
        ("POST", "/api/nope"),
        ("GET", "/internal/x"),
        ("DELETE", "/room/x"),
    ]:
        resp = await web.request(method, path)
        assert resp.status_code == 404, (method, path)
        assert resp.json()["code"] == "not_found"
    # A route the API knows keeps its own answer for other methods.
    assert (await web.put("/api/rooms")).status_code == 405
    assert (await web.get("/healthz")).json() == {"status": "ok"}
    assert (await web.get("/api/openapi.json")).json()["info"]["title"] == "Watch Party"
    assert "web_app" not in (await web.get("/api/openapi.json")).text


async def test_an_unbuilt_app_says_how_to_build_it(tmp_path: Path) -> None:
    async for c in client_for(tmp_path, tmp_path / "no-dist"):
        resp = await c.get("/")
        assert resp.status_code == 503
        assert "npm run build" in resp.text and "make run" in resp.text
        assert (await c.get("/api/nope")).json()["code"] == "not_found"
