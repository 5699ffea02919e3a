"""Issue 19 #13 in a real browser: after signing in, the page's storage holds no token (the
refresh token is an HttpOnly cookie the page cannot read, the access token lives in memory), and
a reload keeps you signed in, by the cookie alone. Both loopback names `make run` may be opened
under, `127.0.0.1` and `localhost`, keep the `Secure` cookie over plain HTTP (secure contexts)."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import register
from tests.support.web import Web

STORAGE_JS = """() => ({
  local: Object.fromEntries(Object.entries(localStorage)),
  session: Object.fromEntries(Object.entries(sessionStorage)),
  cookie: document.cookie,
})"""


async def signed_in_dashboard(page: Page, username: str) -> None:
    await expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=15_000)
    await expect(page.get_by_text(username).first).to_be_visible()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_no_token_in_storage_and_a_reload_stays_signed_in(
    web: Web, browser: Browser, screenshots: Path, host: str
) -> None:
    base = web.url.replace("127.0.0.1", host)
    username = f"ck{uuid.uuid4().hex[:8]}"
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await register(page, base, username)  # signs in and lands on the dashboard
        await signed_in_dashboard(page, username)
        stored = await page.evaluate(STORAGE_JS)
        assert stored == {"local": {"wp.session": "1"}, "session": {}, "cookie": ""}, stored

        cookies = [c for c in await context.cookies() if c["name"] == "wp_refresh"]
        assert {c["path"] for c in cookies} == {"/api/auth/refresh", "/api/auth/logout"}
        for cookie in cookies:
            assert cookie["httpOnly"] and cookie["secure"], cookie
            assert cookie["sameSite"] == "Strict", cookie
            assert cookie["domain"] == urlsplit(base).hostname, cookie

        await page.reload()
        await page.wait_for_url(f"{base}/dashboard")
        await signed_in_dashboard(page, username)
        stored = await page.evaluate(STORAGE_JS)
        assert stored["local"] == {"wp.session": "1"} and stored["cookie"] == ""
        await page.screenshot(path=str(screenshots / f"dashboard-after-reload-{host}.png"))

        # Logging out ends it: the cookie is gone and a reload stays signed out.
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url(f"{base}/")
        assert [c for c in await context.cookies() if c["name"] == "wp_refresh"] == []
        assert (await page.evaluate(STORAGE_JS))["local"] == {}
        await page.goto(f"{base}/dashboard")
        await page.wait_for_url("**/login?next=*")
    finally:
        await context.close()
