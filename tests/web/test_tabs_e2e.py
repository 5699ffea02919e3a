"""The room browser's tabs through the room page's accessible names (issue 22): the tablist
"Tabs" with one tab per room-browser tab (its title), "New tab", and "Close tab" on each tab. The
host (who holds the remote) opens, names (by navigating), switches and closes tabs and the stream
follows; the guest sees the same strip, disabled, also after a reload; a page's target=_blank
link clicked in the stream becomes a tab. Screenshots: the strip with three tabs (the host's
page, and the strip alone), and the guest's disabled strip.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, two headless Chromium contexts."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.browser import click_stream, register, stream_playing, wait_colour
from tests.support.servers import static_files
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]

AGENT_PAGES = Path(__file__).resolve().parents[1] / "agent" / "pages"
CENTRE = (0.5, 0.6)  # below tabs.html's band of buttons: the page's own colour
LINK = (0.156, 0.139)  # tabs.html's target=_blank link
GREEN, MAGENTA, BLUE = (0, 255, 0), (255, 0, 255), (0, 0, 255)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The agent tests' tabs page (a colour and a title from its query), served over HTTP."""
    root = tmp_path_factory.mktemp("tabs")
    shutil.copy(AGENT_PAGES / "tabs.html", root / "tabs.html")
    with static_files(root) as url:
        yield url


async def new_user(browser: Browser, web: Web, name: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await ctx.new_page()
    await register(page, web.url, name)
    return ctx, page


def strip(page: Page) -> Locator:
    return page.get_by_role("tablist", name="Tabs")


def close_button(page: Page, title: str) -> Locator:
    """The "Close tab" button on the tab called `title`."""
    holder = strip(page).locator("[role=presentation]", has=page.get_by_role("tab", name=title))
    return holder.get_by_role("button", name="Close tab")


async def go(page: Page, url: str) -> None:
    address = page.get_by_label("Address")
    await address.click()
    await address.fill(url)
    await address.press("Enter")


async def test_the_holder_drives_the_tabs_and_everyone_sees_them(
    web: Web, browser: Browser, pages: str, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    a_ctx, ana = await new_user(browser, web, f"ana{tag}")
    b_ctx, ben = await new_user(browser, web, f"ben{tag}")
    try:
        await ana.get_by_label("Room title").fill("Tabs night")
        await ana.get_by_label("Start page").fill(f"{pages}/tabs.html?c=00ff00&t=Green")
        await ana.get_by_role("button", name="Create room").click()
        await ana.wait_for_url("**/room/*", timeout=15_000)
        code = ana.url.rsplit("/", 1)[-1]
        await ben.goto(f"{web.url}/room/{code}")
        await stream_playing(ana, within=90)
        await stream_playing(ben)

        # One tab, the start page, for everyone; only the holder (the host) may use the strip.
        for page in (ana, ben):
            await expect(strip(page).get_by_role("tab")).to_have_count(1, timeout=15_000)
            await expect(page.get_by_role("tab", name="Green")).to_have_attribute(
                "aria-selected", "true"
            )
        await expect(ana.get_by_role("button", name="New tab")).to_be_enabled()
        await expect(ben.get_by_role("button", name="New tab")).to_be_disabled()
        await expect(ben.get_by_role("tab", name="Green")).to_be_disabled()
        await expect(close_button(ana, "Green")).to_be_disabled()  # the last tab stays

        # The host opens two tabs and sends each somewhere: the stream shows the tab on screen.
        for url, title, colour in (
            (f"{pages}/tabs.html?c=ff00ff&t=Magenta", "Magenta", MAGENTA),
            (f"{pages}/tabs.html?c=0000ff&t=Blue", "Blue", BLUE),
        ):
            count = await strip(ana).get_by_role("tab").count()
            await ana.get_by_role("button", name="New tab").click()
            await expect(strip(ana).get_by_role("tab")).to_have_count(count + 1)
            await expect(ana.get_by_role("tab", name="New tab")).to_have_attribute(
                "aria-selected", "true"
            )
            await go(ana, url)
            await expect(ana.get_by_role("tab", name=title)).to_have_attribute(
                "aria-selected", "true", timeout=15_000
            )
            assert await wait_colour(ana, *CENTRE, colour), f"the stream does not show {title}"
        names = ["Green", "Magenta", "Blue"]
        for page in (ana, ben):
            await expect(strip(page).get_by_role("tab")).to_have_text(names)
        await ana.screenshot(path=screenshots / "tabs-three.png")
        await strip(ana).locator("..").screenshot(path=screenshots / "tabs-strip.png")
        await ben.screenshot(path=screenshots / "tabs-guest-disabled.png")

        # The host switches back to the first: the stream and the address bar follow it.
        await ana.get_by_role("tab", name="Green").click()
        await expect(ben.get_by_role("tab", name="Green")).to_have_attribute(
            "aria-selected", "true"
        )
        assert await wait_colour(ben, *CENTRE, GREEN), "the stream does not show the first tab"
        await expect(ana.get_by_label("Address")).to_have_value(
            f"{pages}/tabs.html?c=00ff00&t=Green"
        )

        # The guest reloads the room page: the same strip, the same tab on screen.
        await ben.reload()
        await expect(strip(ben).get_by_role("tab")).to_have_text(names, timeout=15_000)
        await expect(ben.get_by_role("tab", name="Green")).to_have_attribute(
            "aria-selected", "true"
        )

        # The host closes the middle tab.
        await close_button(ana, "Magenta").click()
        for page in (ana, ben):
            await expect(strip(page).get_by_role("tab")).to_have_text(["Green", "Blue"])

        # A page's target=_blank link, clicked in the stream, becomes a tab on screen.
        await click_stream(ana, *LINK)
        await expect(strip(ben).get_by_role("tab")).to_have_text(
            ["Green", "Blue", "Blue"], timeout=15_000
        )
        await expect(strip(ben).get_by_role("tab").nth(2)).to_have_attribute(
            "aria-selected", "true"
        )
        assert await wait_colour(ben, *CENTRE, BLUE), "the new tab is not on screen"
    finally:
        await a_ctx.close()
        await b_ctx.close()
