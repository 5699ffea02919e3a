"""The built web app (frontend/dist), served by the control plane on the same port as the API.

Paths the server owns are never shadowed: only requests no route matched get here, and of those
`/api/...` and `/internal/...` stay JSON 404s. Every other GET is a file of the build when one
exists, else the app's `index.html` (the app's router decides, and shows its own not-found
page). Vite puts content-hashed files under `/assets/`, so they are cached for a year;
`index.html` is revalidated on every load so a deploy takes effect at once. The app has no
inline scripts, so the control plane's strict CSP applies unchanged.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

# First path segments that belong to the server, never to the app.
RESERVED = frozenset({"api", "internal", "healthz", "readyz", "metrics"})
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Watch Party: web app not built</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">
<h1>The web app is not built</h1>
<p>This control plane found no build in <code>{dir}</code>. Run <code>make run</code>, which
builds it, or <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>, or point
<code>WEB_DIR</code> at a build. The API is up: see <a href="/api/docs">/api/docs</a>.</p>
</body></html>"""


def resolve_asset(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None (missing, a folder, or outside `root`)."""
    if not path or "\x00" in path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def mount_web_app(app: FastAPI, web_dir: Path) -> None:
    """Serve `web_dir` for every request no route matched.

    It is the router's fallback, not a catch-all route, so a path a route knows keeps its answer
    for other methods (405), and anything but GET/HEAD, or a reserved prefix, keeps the JSON 404.
    """
    root = web_dir.resolve()
    not_found = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lstrip("/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await not_found(scope, receive, send)
            return
        if path.split("/", 1)[0] in RESERVED:
            await not_found(scope, receive, send)
            return
        response = _web_response(root, path)
        await response(scope, receive, send)

    app.router.default = fallback


def _web_response(root: Path, path: str) -> Response:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT.format(dir=root), status_code=503)
    asset = resolve_asset(root, path)
    if asset is not None:
        cache = IMMUTABLE if path.startswith("assets/") else "public, max-age=3600"
        return FileResponse(asset, headers={"cache-control": cache})
    if path.startswith("assets/") or "." in path.rsplit("/", 1)[-1]:
        # A missing file, not an app route: a stale hashed asset after a deploy must fail
        # loudly rather than receive the HTML page with a 200.
        return Response("Not Found", status_code=404, media_type="text/plain")
    return FileResponse(index, headers={"cache-control": REVALIDATE})
