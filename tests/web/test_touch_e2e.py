"""A phone drives the room (issue 22, "Touch" and the "Block ads" names): at 390x844 with touch
(Playwright `has_touch`, `is_mobile`), the host creates a room with "Block ads" unchecked, taps
the room page's picture, which clicks the button of the page in the room's browser, opens
"Keyboard" and types into the page's field, and reaches the chat; the room's own "Block ads"
follows the choice and the host turns it on. Screenshots at 390x844: the dashboard, the room,
the keyboard open, the chat.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, headless Chromium as the phone."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.browser import register, send_chat, stream_playing, stream_point, wait_colour
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]

BLUE, RED, PURPLE = (30, 136, 229), (229, 57, 53), (142, 36, 170)
BACKGROUND = (0.70, 0.83)  # a spot of tests/web/pages/index.html's background
BUTTON = (250 / 1280, 175 / 720)  # the centre of its button
FIELD = (350 / 1280, 350 / 720)  # the centre of its text field
PHONE = {"width": 390, "height": 844}


async def test_a_phone_taps_types_and_chats_in_its_room(
    web: Web, browser: Browser, screenshots: Path
) -> None:
    ctx = await browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2
    )
    page = await ctx.new_page()
    try:
        await register(page, web.url, f"pho{uuid.uuid4().hex[:6]}")
        ads = page.get_by_role("checkbox", name="Block ads", exact=True)
        await expect(ads).to_be_checked()  # on by default
        await page.screenshot(path=screenshots / "phone-dashboard.png", full_page=True)
        await page.get_by_label("Room title").fill("Phone night")
        await page.get_by_label("Start page").fill(web.page("index.html"))
        await ads.uncheck()
        await page.get_by_role("button", name="Create room").click()
        await page.wait_for_url("**/room/*", timeout=15_000)
        await stream_playing(page, within=90)
        await wait_colour(page, *BACKGROUND, BLUE)
        await expect(page.get_by_text("You have the remote")).to_be_visible()

        # The room's "Block ads" is the creator's choice; the host turns it on.
        in_room = page.get_by_role("checkbox", name="Block ads", exact=True)
        await expect(in_room).not_to_be_checked()
        await in_room.check()
        await expect(in_room).to_be_checked()
        await page.screenshot(path=screenshots / "phone-room.png")

        # A tap on the picture clicks the page's button in the room's browser.
        await page.touchscreen.tap(*await stream_point(page, *BUTTON))
        await wait_colour(page, *BACKGROUND, RED)

        # A tap on its field, then the on-screen keyboard types into it.
        await page.touchscreen.tap(*await stream_point(page, *FIELD))
        keyboard = page.get_by_role("button", name="Keyboard")
        await keyboard.tap()
        await expect(keyboard).to_have_attribute("aria-pressed", "true")
        await expect(page.get_by_label("Type into the shared browser")).to_be_focused()
        await page.keyboard.type("hellx", delay=30)
        await page.keyboard.press("Backspace")
        await page.keyboard.type("o", delay=30)
        await wait_colour(page, *BACKGROUND, PURPLE)  # the page saw "hello"
        await page.screenshot(path=screenshots / "phone-keyboard.png")

        # The chat is reachable below the stream.
        message = page.get_by_label("Message")
        await message.scroll_into_view_if_needed()
        await send_chat(page, "typed on a phone")
        await expect(page.get_by_role("log", name="Chat")).to_contain_text("typed on a phone")
        await page.screenshot(path=screenshots / "phone-chat.png")
    finally:
        await ctx.close()
