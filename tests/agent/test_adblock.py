"""The room browser's ad blocker (issue 22) in a real room: Xvfb, Chromium and the agent with the
filter lists the install step puts in place (browser-image/adblock-lists.sh). A test page with
common ad slots (`adsbygoogle-wrapper`, `ad-slot`: EasyList's generic rules) and an iframe from
an "ad host" (a name the lists refuse, resolved to a local server by the browser's host rules):
with blocking on the slots are hidden and the ad host gets no request; the room's
`room.settings {block_ads: false}` turns it off at once (the slots show, the iframe loads from
the ad host), and on again. Screenshots of both go to var/screenshots/ (adblock-on.png,
adblock-off.png)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from roomagent.adblock.filters import load_lists
from roomagent.config import AgentSettings

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane
from tests.support.servers import CountingPage, counting_page
from tests.support.waits import eventually
from tests.support.web import SCREENSHOTS

pytestmark = pytest.mark.x11

# An ad server's name the real lists refuse (EasyList's `||securepubads.g.doubleclick.net^`).
AD_HOST = "securepubads.g.doubleclick.net"


AD_PAGE = (
    b"<!doctype html><title>ad</title>"
    b"<body style='margin:0;background:rgb(255,140,0);font:28px sans-serif'>"
    b"AD FROM THE AD HOST</body>"
)


@pytest.fixture
def ad_server() -> Iterator[CountingPage]:
    with counting_page(AD_PAGE) as page:
        yield page


def _lists() -> str:
    lists = AgentSettings().adblock_lists
    if not Path(lists).is_dir():
        pytest.fail(f"no ad-block lists at {lists}: run bash browser-image/adblock-lists.sh")
    assert load_lists(Path(lists)).blocks_host(AD_HOST), f"{AD_HOST} is not in the lists"
    return lists


SLOTS = (".adsbygoogle-wrapper", ".ad-slot", "#story")


async def _slots(cdp: Cdp) -> dict[str, str]:
    """The computed `display` of the page's two ad slots and its article."""
    expression = (
        f"Object.fromEntries({json.dumps(SLOTS)}.map((s) => "
        "[s, getComputedStyle(document.querySelector(s)).display]))"
    )
    return dict(await cdp.evaluate(expression))


_loads = iter(range(1, 1_000_000))


async def _open(cp: FakeControlPlane, url: str) -> None:
    """Load `url` afresh (its own query each time: a status that did not change is not
    reported, and the same URL again may not be seen loading) and wait until it loaded."""
    url = f"{url}&load={next(_loads)}"
    await cp.send("browser.navigate", {"url": url})
    await cp.wait_for(
        lambda m: (
            m["type"] == "browser.status" and m["data"]["url"] == url and not m["data"]["loading"]
        ),
        30,
    )


async def test_ads_are_hidden_and_the_ad_host_refused_until_the_room_turns_it_off(
    log_dir: Path, ad_server: CountingPage
) -> None:
    _lists()
    cp = FakeControlPlane()
    await cp.start()
    rules = f"--host-resolver-rules=MAP {AD_HOST} 127.0.0.1"
    agent = AgentProcess(
        cp, width=960, height=540, extra_env={"WP_CHROMIUM_EXTRA_ARGS": json.dumps([rules])}
    )
    await agent.start(log_dir)
    page = cp.page_url(f"ads.html?adhost={AD_HOST}&adport={ad_server.port}")
    try:
        await cp.wait_type("ready", 60)
        # The blocker runs once its lists are compiled (not waited for by `ready`).
        await cp.wait_for(lambda m: m["type"] == "heartbeat" and "ads" in m["data"], 60)
        cdp = Cdp(agent.cdp_port)
        await _open(cp, page)

        # On (the default): the slots are hidden, the article is not, the ad host got nothing.
        async def hidden() -> bool:
            return await _slots(cdp) == {
                ".adsbygoogle-wrapper": "none",
                ".ad-slot": "none",
                "#story": "block",
            }

        await eventually(hidden, what="the ad slots hidden")
        await cdp.screenshot(SCREENSHOTS / "adblock-on.png")
        assert ad_server.hits == [], ad_server.hits
        beat = await cp.wait_for(lambda m: m["type"] == "heartbeat" and "ads" in m["data"], 15)
        assert beat["data"]["ads"]["on"] is True
        await eventually(
            lambda: _refused_some(cp), what="a heartbeat counting the refused ad request"
        )

        # Off, live: the style goes at once; a reload loads the ad host's iframe.
        await cp.send("room.settings", {"block_ads": False})

        async def shown() -> bool:
            return (await _slots(cdp))[".adsbygoogle-wrapper"] == "block"

        await eventually(shown, what="the ad slots shown again")
        await _open(cp, page)
        await eventually(lambda: "/ad.html" in ad_server.hits, what="the ad host's iframe loaded")
        assert (await _slots(cdp))[".ad-slot"] == "flex"
        await cdp.screenshot(SCREENSHOTS / "adblock-off.png")

        # On again, live: hidden at once, and the next load refuses the ad host again.
        await cp.send("room.settings", {"block_ads": True})
        await eventually(hidden, what="the ad slots hidden again")
        before = len(ad_server.hits)
        await _open(cp, page)
        await eventually(hidden, what="the ad slots hidden after a reload")
        assert len(ad_server.hits) == before, ad_server.hits
    except BaseException:
        print(agent.log_tail(60))
        raise
    finally:
        await agent.stop()
        await cp.stop()


async def _refused_some(cp: FakeControlPlane) -> bool:
    beats = [m for m in cp.messages if m["type"] == "heartbeat" and "ads" in m["data"]]
    return bool(beats) and beats[-1]["data"]["ads"]["blocked"] >= 1


async def test_a_room_that_starts_with_blocking_off_shows_its_ads(
    log_dir: Path, ad_server: CountingPage
) -> None:
    """`auth.ok {block_ads: false}` (the room was created with "Block ads" unchecked)."""
    _lists()
    cp = FakeControlPlane()
    cp.auth_extra = {"block_ads": False}
    await cp.start()
    rules = f"--host-resolver-rules=MAP {AD_HOST} 127.0.0.1"
    agent = AgentProcess(
        cp, width=640, height=360, extra_env={"WP_CHROMIUM_EXTRA_ARGS": json.dumps([rules])}
    )
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", 60)
        await cp.wait_for(lambda m: m["type"] == "heartbeat" and "ads" in m["data"], 60)
        cdp = Cdp(agent.cdp_port)
        await _open(cp, cp.page_url(f"ads.html?adhost={AD_HOST}&adport={ad_server.port}"))
        await eventually(lambda: "/ad.html" in ad_server.hits, what="the ad host's iframe loaded")
        assert (await _slots(cdp))[".adsbygoogle-wrapper"] == "block"
    except BaseException:
        print(agent.log_tail(60))
        raise
    finally:
        await agent.stop()
        await cp.stop()
