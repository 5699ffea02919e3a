"""Watching together through the room page's accessible names (issue 21), two people in one
room whose browser plays a local clip: the guest, who does not hold the remote, pauses, seeks,
reacts and queues; the host turns "Anyone can pause" off and the guest's controls go disabled;
the clip's end opens the first queued address. Screenshots: normal, paused, fullscreen,
disabled controls, empty queue, a phone's width.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, two headless Chromium contexts. The clip is tests/support/clip.py's (each second has
its own colour: a paused picture is one that keeps its colour)."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.support.browser import (
    blur,
    near,
    pixel,
    register,
    stage_is_fullscreen,
    stream_playing,
    wait_colour,
)
from tests.support.clip import PALETTE, make_clip
from tests.support.servers import static_files
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]

CLIP_SECONDS = 60
SPOT = (0.5, 0.6)  # a spot of the picture the clip's colour fills (below its moving bar)
PAGES = Path(__file__).resolve().parents[1] / "agent" / "pages"


@pytest.fixture(scope="module")
def clip_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The agent tests' clip page and next page, and a one-minute clip, served over HTTP."""
    root = tmp_path_factory.mktemp("clip")
    make_clip(root / "clip.webm", CLIP_SECONDS)
    for name in ("video.html", "next.html"):
        shutil.copy(PAGES / name, root / name)
    with static_files(root) as url:
        yield url


async def new_user(
    browser: Browser, web: Web, name: str, width: int = 1440, height: int = 900
) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    page = await ctx.new_page()
    await register(page, web.url, name)
    return ctx, page


async def slider_value(page: Page) -> float:
    slider = page.get_by_role("toolbar", name="Media").get_by_role("slider", name="Position")
    return float(await slider.get_attribute("aria-valuenow") or "nan")


async def colour_holds(page: Page, seconds: float) -> bool:
    """Whether the picture keeps its colour at SPOT for `seconds` (the clip is paused)."""
    first = await pixel(page, *SPOT)
    if first is None:
        return False
    want = (first[0], first[1], first[2])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        if not near(await pixel(page, *SPOT), want, tol=30):
            return False
    return True


def chat(page: Page) -> Locator:
    return page.get_by_role("log", name="Chat")


async def test_guest_pauses_seeks_reacts_queues_and_the_host_takes_pausing_back(
    web: Web, browser: Browser, clip_url: str, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ana_name, ben_name = f"ana{tag}", f"ben{tag}"
    a_ctx, ana = await new_user(browser, web, ana_name)
    b_ctx, ben = await new_user(browser, web, ben_name)
    phone_ctx: BrowserContext | None = None
    try:
        await ana.get_by_label("Room title").fill("Clip night")
        await ana.get_by_label("Start page").fill(f"{clip_url}/video.html?src=clip.webm")
        await ana.get_by_role("button", name="Create room").click()
        await ana.wait_for_url("**/room/*", timeout=15_000)
        code = ana.url.rsplit("/", 1)[-1]
        await ben.goto(f"{web.url}/room/{code}")
        await stream_playing(ana, within=90)
        await stream_playing(ben)
        await expect(ben.get_by_text("You have the remote")).to_have_count(0)

        # The clip plays: both see the media bar, with "Pause" while it plays.
        a_media = ana.get_by_role("toolbar", name="Media")
        b_media = ben.get_by_role("toolbar", name="Media")
        await expect(b_media.get_by_role("button", name="Pause", exact=True)).to_be_visible(
            timeout=30_000
        )
        await expect(a_media.get_by_role("button", name="Pause", exact=True)).to_be_visible()
        b_slider = b_media.get_by_role("slider", name="Position")
        assert abs(float(await b_slider.get_attribute("aria-valuemax") or 0) - CLIP_SECONDS) <= 1
        assert not await colour_holds(ana, 2.5), "the clip does not play in the stream"
        b_queue = ben.get_by_role("list", name="Up next")
        await expect(b_queue.get_by_role("listitem")).to_have_count(0)
        await ana.screenshot(path=screenshots / "together-playing.png")
        await ben.screenshot(path=screenshots / "together-queue-empty.png")

        # Ben, who does not hold the remote, pauses: everyone's bar says "Play", the picture
        # stops, and the chat says who did it.
        await b_media.get_by_role("button", name="Pause", exact=True).click()
        await expect(a_media.get_by_role("button", name="Play", exact=True)).to_be_visible(
            timeout=5_000
        )
        await expect(b_media.get_by_role("button", name="Play", exact=True)).to_be_visible()
        assert await colour_holds(ana, 2.0), "the picture kept changing after the pause"
        await expect(chat(ana)).to_contain_text(f"{ben_name} paused")
        await ana.screenshot(path=screenshots / "together-paused.png")

        # Ben seeks with the keyboard: two ArrowRight are +10 s, for everyone.
        before = await slider_value(ben)
        await b_slider.focus()
        await b_slider.press("ArrowRight")
        await b_slider.press("ArrowRight")
        await expect(a_media.get_by_role("slider", name="Position")).to_have_attribute(
            "aria-valuenow", str(int(before + 10)), timeout=5_000
        )
        await expect(b_slider).to_have_attribute("aria-valuenow", str(int(before + 10)))
        await expect(chat(ana)).to_contain_text(f"{ben_name} skipped to")
        # Home goes to the start; the paused picture now shows second 0's colour.
        await b_slider.press("Home")
        await expect(a_media.get_by_role("slider", name="Position")).to_have_attribute(
            "aria-valuenow", "0", timeout=5_000
        )
        await wait_colour(ana, *SPOT, PALETTE[0])

        # Space plays again (the focus is on nothing that takes it).
        await blur(ben)
        await ben.keyboard.press("Space")
        await expect(a_media.get_by_role("button", name="Pause", exact=True)).to_be_visible(
            timeout=5_000
        )

        # Ben reacts: everyone sees it over the stream with his name.
        await ben.get_by_role("button", name="React 👍").click()
        reactions = ana.get_by_role("log", name="Reactions")
        await expect(reactions).to_contain_text("👍")
        await expect(reactions).to_contain_text(ben_name)
        await ben.get_by_role("button", name="React 😂").click()
        await expect(reactions).to_contain_text("😂")

        # Ben queues the next page; both see it up next, Ben may remove his own entry.
        await ben.get_by_role("textbox", name="Add to queue").fill(f"{clip_url}/next.html")
        await ben.get_by_role("button", name="Add", exact=True).click()
        a_queue = ana.get_by_role("list", name="Up next")
        await expect(a_queue.get_by_role("listitem")).to_have_count(1)
        await expect(a_queue).to_contain_text("next.html")
        await expect(b_queue.get_by_role("button", name="Remove")).to_have_count(1)

        # A phone's width, while the clip plays.
        phone_ctx = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        phone = await phone_ctx.new_page()
        await register(phone, web.url, f"cy{tag}")
        await phone.goto(f"{web.url}/room/{code}")
        await stream_playing(phone)
        await expect(phone.get_by_role("toolbar", name="Media")).to_be_visible(timeout=10_000)
        await phone.screenshot(path=screenshots / "together-phone.png", full_page=True)

        # Fullscreen is the room's stage: the stream with the reactions, the media bar and the
        # remote bar, not the bare video.
        await blur(ana)
        await ana.keyboard.press("f")
        await ana.wait_for_function("() => document.fullscreenElement !== null")
        assert await stage_is_fullscreen(ana)
        await ben.get_by_role("button", name="React ❤️").click()
        await ana.get_by_role("button", name="React 👏").click()
        await ana.wait_for_timeout(400)
        await ana.screenshot(path=screenshots / "together-fullscreen.png")
        await ana.keyboard.press("f")
        await ana.wait_for_function("() => document.fullscreenElement === null")

        # Ana turns "Anyone can pause" off: Ben's controls go disabled.
        setting = ana.get_by_role("checkbox", name="Anyone can pause")
        await expect(setting).to_be_checked()
        await expect(ben.get_by_role("checkbox", name="Anyone can pause")).to_have_count(0)
        await setting.uncheck()
        await expect(b_media.get_by_role("button", name="Pause", exact=True)).to_be_disabled()
        await expect(b_slider).to_be_disabled()
        await expect(a_media.get_by_role("button", name="Pause", exact=True)).to_be_enabled()
        await ben.screenshot(path=screenshots / "together-disabled.png")

        # The host skips to the end: the room opens the queued page and the queue empties.
        a_slider = a_media.get_by_role("slider", name="Position")
        await a_slider.focus()
        await a_slider.press("End")
        await expect(a_queue.get_by_role("listitem")).to_have_count(0, timeout=15_000)
        await expect(ana.get_by_label("Address")).to_have_value(f"{clip_url}/next.html")
        await expect(chat(ben)).to_contain_text("Up next")
        await expect(a_media).to_have_count(0, timeout=10_000)  # no media on that page
    finally:
        await a_ctx.close()
        await b_ctx.close()
        if phone_ctx is not None:
            await phone_ctx.close()
