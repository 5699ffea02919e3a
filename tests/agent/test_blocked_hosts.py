"""The room browser cannot reach the control plane (WP_BLOCKED_HOSTS, issue 11 item 10): not by
navigating to it, not by a page's fetch, while other ports of the same host still load. Real
Xvfb + Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane
from tests.support.servers import CountingPage, counting_page
from tests.support.waits import eventually

pytestmark = pytest.mark.x11


@pytest.fixture
def control_plane_api() -> Iterator[CountingPage]:
    """Stands in for the control plane's public listener: counts every request it gets."""
    with counting_page(
        b"<title>control plane</title>", {"Access-Control-Allow-Origin": "*"}
    ) as page:
        yield page


async def test_the_room_browser_cannot_reach_the_control_plane(
    log_dir: Path, control_plane_api: CountingPage
):
    blocked = f"127.0.0.1:{control_plane_api.port}"
    by_name = f"localhost:{control_plane_api.port}"
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(
        cp,
        start_url=cp.page_url("page2.html"),
        width=640,
        height=360,
        extra_env={"WP_BLOCKED_HOSTS": json.dumps([blocked, by_name])},
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
        for url in (f"http://{blocked}/readyz", f"http://{by_name}/api/docs"):
            await cp.send("browser.navigate", {"url": url})
            await cp.wait_for(
                lambda m, url=url: m["type"] == "browser.status" and m["data"]["url"] == url, 15
            )

            async def error_page() -> bool:
                return bool(await cdp.evaluate("location.href") == "chrome-error://chromewebdata/")

            # the refusal shows as Chromium's error page, however long a busy box takes to it
            await eventually(error_page, what=f"the error page for {url}")
        assert control_plane_api.hits == [], control_plane_api.hits
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
