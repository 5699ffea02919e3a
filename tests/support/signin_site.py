"""A small web site to be signed in to, for room browsers (the browser profile's tests and
bench): `/login?user=NAME` sets a long-lived HttpOnly session cookie (its value random per
login, so a test can look for it in stored bytes) and a local storage entry; every page's title
then says who the site sees and what local storage holds: `user=NAME;ls=VALUE` (`none`/`null`
when signed out)."""

from __future__ import annotations

import http.server
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from tests.support.servers import serve_in_thread

COOKIE = "wp_site_session"
YEAR = 365 * 24 * 3600
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>loading</title>
<style>html, body {{ margin: 0; background: rgb(30, 120, 60); }}</style></head>
<body><h1>Test site</h1><script>
{script}
document.title = "user={user};ls=" + localStorage.getItem("prefs");
</script></body></html>"""


@dataclass
class Site:
    url: str
    # The session cookie value given to each user who signed in (value -> user name).
    sessions: dict[str, str] = field(default_factory=dict)

    def login_url(self, user: str) -> str:
        return f"{self.url}/login?user={user}"

    def home(self) -> str:
        return f"{self.url}/"


@contextmanager
def signin_site() -> Iterator[Site]:
    site = Site(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
            headers: list[tuple[str, str]] = []
            script = ""
            if parts.path == "/login":
                user = (parse_qs(parts.query).get("user") or ["someone"])[0]
                value = secrets.token_hex(16)
                site.sessions[value] = user
                headers.append(
                    (
                        "Set-Cookie",
                        f"{COOKIE}={value}; Max-Age={YEAR}; Path=/; HttpOnly; SameSite=Lax",
                    )
                )
                script = f'localStorage.setItem("prefs", "dark-{user}");'
            else:
                morsel = cookies.get(COOKIE)
                user = site.sessions.get(morsel.value, "none") if morsel else "none"
            body = PAGE.format(script=script, user=user).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    with serve_in_thread(Handler) as port:
        site.url = f"http://127.0.0.1:{port}"
        yield site
