"""The API docs page works without internet: every asset is served by the control plane itself,
and the page's CSP allows nothing but this origin (no CDN, no inline script)."""

from __future__ import annotations

import re

import pytest

# Storage plays no part in serving the docs page.
pytestmark = pytest.mark.parametrize("backend", ["embedded"])


async def test_docs_page_loads_only_same_origin_assets(client):
    page = await client.get("/api/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs, page.text
    assert all(ref.startswith("/api/docs/") for ref in refs), refs
    assert "<script>" not in page.text  # no inline script: CSP forbids it
    for ref in refs:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content, ref
    init = await client.get("/api/docs/init.js")
    assert "/api/openapi.json" in init.text
    assert "javascript" in init.headers["content-type"]
    bundle = await client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text


async def test_docs_csp_is_self_only(client):
    for path in ("/api/docs", "/api/docs/init.js", "/api/docs/assets/swagger-ui.css"):
        csp = (await client.get(path)).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'", csp
        assert directives["style-src"] == "'self'", csp
        assert directives["default-src"] == "'self'", csp
        assert "http" not in csp and "unsafe-inline" not in csp, csp


async def test_openapi_schema_still_served(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status_code == 200
    assert resp.json()["info"]["title"] == "Watch Party"
