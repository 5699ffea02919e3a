"""A phone drives the room (issue 22, "Touch" and the "Block ads" names): at 390x844 with touch
(Playwright `has_touch`, `is_mobile`), the host creates a room with "Block ads" unchecked, taps
the room page's picture, which clicks the button of the page in the room's browser, opens
"Keyboard" and types into the page's field, drags a finger up over a scrolling box of the page,
which scrolls it, and reaches the chat; the room's own "Block ads" follows the choice and the
host turns it on. Screenshots at 390x844: the dashboard, the room, the keyboard open, the page
scrolled, the chat.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, headless Chromium as the phone."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import register, send_chat, stream_playing, stream_point, wait_colour
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]

BLUE, RED, PURPLE, GREEN = (30, 136, 229), (229, 57, 53), (142, 36, 170), (67, 160, 71)
BACKGROUND = (0.70, 0.83)  # a spot of tests/web/pages/index.html's background
BUTTON = (250 / 1280, 175 / 720)  # the centre of its button
FIELD = (350 / 1280, 350 / 720)  # the centre of its text field
IN_BOX = (950 / 1280, 450 / 720)  # the lower part of its scrolling box: green once scrolled
DRAG_TO = (950 / 1280, 150 / 720)  # a finger drawn up 300 stream pixels over the box
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

        # A finger drawn up over the page's scrolling box scrolls it (no click on the way).
        await wait_colour(page, *IN_BOX, PURPLE)  # the page itself, through the box
        await touch_drag(page, IN_BOX, DRAG_TO)
        await wait_colour(page, *IN_BOX, GREEN)
        await wait_colour(page, *BACKGROUND, PURPLE)  # the drag clicked nothing
        await page.screenshot(path=screenshots / "phone-scrolled.png")

        # The chat is reachable below the stream.
        message = page.get_by_label("Message")
        await message.scroll_into_view_if_needed()
        await send_chat(page, "typed on a phone")
        await expect(page.get_by_role("log", name="Chat")).to_contain_text("typed on a phone")
        await page.screenshot(path=screenshots / "phone-chat.png")
    finally:
        await ctx.close()


async def touch_drag(
    page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 12
) -> None:
    """One finger down at `start` (fractions of the picture), drawn to `end`, lifted: real touch
    events through Chromium's DevTools (Playwright's touchscreen only taps)."""
    (x0, y0), (x1, y1) = await stream_point(page, *start), await stream_point(page, *end)
    cdp = await page.context.new_cdp_session(page)
    try:
        await cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
        )
        for i in range(1, steps + 1):
            x, y = x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps
            await cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
            await asyncio.sleep(0.02)
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        await cdp.detach()
