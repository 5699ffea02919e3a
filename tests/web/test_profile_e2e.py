""" "Keep my browser profile" through the web app's accessible names (issue 22): the dashboard's
checkbox "Keep my browser profile" (and, with it, "Let others drive my signed-in browser"), the
room browser signed in to a site in one room and still signed in in the next, the host's setting
and a member's note in the room, and the account page's "Forget my browser profile".
Screenshots: the create form, the room with a profile (host and member), the account page.

Real parts only: `watchparty serve` (embedded, local rooms), the built web app, headless
Chromium; the site is tests/support/signin_site.py's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.browser import register, stream_playing
from tests.support.signin_site import Site, signin_site
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with signin_site() as s:
        yield s


async def new_user(browser: Browser, web: Web, name: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await ctx.new_page()
    await register(page, web.url, name)
    return ctx, page


async def create(page: Page, url: str, *, keep: bool) -> str:
    await page.get_by_label("Room title").fill("Signed in")
    await page.get_by_label("Start page").fill(url)
    keep_box = page.get_by_role("checkbox", name="Keep my browser profile")
    await expect(keep_box).not_to_be_checked()
    if keep:
        await keep_box.check()
        others = page.get_by_role("checkbox", name="Let others drive my signed-in browser")
        await expect(others).not_to_be_checked()
    await page.get_by_role("button", name="Create room").click()
    await page.wait_for_url("**/room/*", timeout=15_000)
    return page.url.rsplit("/", 1)[-1]


async def end(page: Page) -> None:
    await page.get_by_role("button", name="End room").click()
    await page.get_by_role("button", name="End the room").click()
    await expect(page.get_by_role("button", name="End room")).to_have_count(0, timeout=30_000)


async def test_stay_signed_in_next_time_and_forget_it(
    web: Web, browser: Browser, site: Site, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ana_name, ben_name = f"ana{tag}", f"ben{tag}"
    a_ctx, ana = await new_user(browser, web, ana_name)
    b_ctx, ben = await new_user(browser, web, ben_name)
    try:
        await ana.get_by_role("checkbox", name="Keep my browser profile").check()
        await ana.screenshot(path=screenshots / "profile-create-form.png")
        await ana.get_by_role("checkbox", name="Keep my browser profile").uncheck()
        code = await create(ana, site.login_url(ana_name), keep=True)
        await stream_playing(ana, within=90)
        signed_in = f"user={ana_name};ls=dark-{ana_name}"
        await expect(ana.get_by_text(signed_in).first).to_be_visible(timeout=30_000)

        # In the room: the host's setting, off; a member is told only the host drives.
        setting = ana.get_by_role("checkbox", name="Let others drive my signed-in browser")
        await expect(setting).not_to_be_checked()
        await ben.goto(f"{web.url}/room/{code}")
        await stream_playing(ben)
        await expect(ben.get_by_text("Only the host drives")).to_be_visible()
        await expect(
            ben.get_by_role("checkbox", name="Let others drive my signed-in browser")
        ).to_have_count(0)
        await ana.screenshot(path=screenshots / "profile-room-host.png")
        await ben.screenshot(path=screenshots / "profile-room-member.png")
        await setting.check()
        await expect(ben.get_by_text("Only the host drives")).to_have_count(0, timeout=5_000)
        await end(ana)

        # Ana's next room with the option opens the site's home: signed in, without signing in.
        await ana.goto(f"{web.url}/dashboard")
        await create(ana, site.home(), keep=True)
        await stream_playing(ana, within=90)
        await expect(ana.get_by_text(signed_in).first).to_be_visible(timeout=30_000)
        await end(ana)

        # The account page: the saved profile, forgotten.
        await ana.goto(f"{web.url}/sessions")
        forget = ana.get_by_role("button", name="Forget my browser profile")
        await expect(forget).to_be_enabled(timeout=10_000)
        await expect(ana.get_by_text("encrypted")).to_be_visible()
        await ana.screenshot(path=screenshots / "profile-account.png")
        await forget.click()
        await expect(forget).to_be_disabled(timeout=10_000)
        await expect(ana.get_by_text("None saved")).to_be_visible()
        await ana.screenshot(path=screenshots / "profile-account-forgotten.png")
    finally:
        await a_ctx.close()
        await b_ctx.close()
