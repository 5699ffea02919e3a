"""The room browser cannot reach the control plane (WP_BLOCKED_HOSTS, issue 11 item 10): not by
navigating to it, not by a page's fetch, while other ports of the same host still load. Real
Xvfb + Chromium."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane
from tests.support.waits import eventually

pytestmark = pytest.mark.x11


class Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Counting.hits.append(self.path)
        body = b"<title>control plane</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def control_plane_api() -> Iterator[int]:
    """Stands in for the control plane's public listener: counts every request it gets."""
    Counting.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


async def test_the_room_browser_cannot_reach_the_control_plane(
    log_dir: Path, control_plane_api: int
):
    blocked = f"127.0.0.1:{control_plane_api}"
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(
        cp,
        start_url=cp.page_url("page2.html"),
        width=640,
        height=360,
        extra_env={"WP_BLOCKED_HOSTS": json.dumps([blocked, f"localhost:{control_plane_api}"])},
    )
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", 45)
        cdp = Cdp(agent.cdp_port)
        # A page's fetch (the page is on the same host, another port: it loaded).
        error = await cdp.evaluate(
            f"fetch('http://{blocked}/metrics').then(r => 'status ' + r.status, e => String(e))"
        )
        assert error.startswith("TypeError"), error
        # Navigation, by address and by name.
        for url in (f"http://{blocked}/readyz", f"http://localhost:{control_plane_api}/api/docs"):
            await cp.send("browser.navigate", {"url": url})
            await cp.wait_for(
                lambda m, url=url: m["type"] == "browser.status" and m["data"]["url"] == url, 15
            )

            async def error_page() -> bool:
                return bool(await cdp.evaluate("location.href") == "chrome-error://chromewebdata/")

            # the refusal shows as Chromium's error page, however long a busy box takes to it
            await eventually(error_page, what=f"the error page for {url}")
        assert Counting.hits == [], Counting.hits
        # Another port of the same host still loads: only the control plane's is blocked.
        await cp.send("browser.navigate", {"url": cp.page_url("anim.html")})
        await cp.wait_for(
            lambda m: (
                m["type"] == "browser.status"
                and m["data"]["url"].endswith("anim.html")
                and not m["data"]["loading"]
            ),
            15,
        )
    except BaseException:
        print(agent.log_tail())
        raise
    finally:
        await agent.stop()
        await cp.stop()
