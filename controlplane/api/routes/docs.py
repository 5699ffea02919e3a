"""The Swagger UI at /api/docs, served from a packaged copy of its assets (no CDN).

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script; a
self-hosted deployment without internet would show a blank page, and the inline script forces
`'unsafe-inline'` into the page's CSP. Here the assets come from the `swagger-ui-bundle`
package and the start-up code is a same-origin file, so the docs page's CSP is `'self'` only
(`controlplane/security_headers.py`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/api/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Watch Party API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body>
</html>
"""


def _init_js(openapi_url: str) -> str:
    return (
        "window.ui = SwaggerUIBundle({"
        f"url: {openapi_url!r}, dom_id: '#swagger-ui', deepLinking: true, "
        "presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'"
        "});\n"
    )


def install_docs(app: FastAPI) -> None:
    """Serve the docs page, its start-up script and the packaged assets (create the app with
    `docs_url=None` so FastAPI's CDN page is not registered as well)."""
    openapi_url = app.openapi_url or "/api/openapi.json"
    init_js = _init_js(openapi_url)

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    @app.get(f"{DOCS_PATH}/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(init_js, media_type="text/javascript")

    app.mount(ASSETS_PATH, StaticFiles(directory=Path(swagger_ui_path)), name="docs-assets")
