"""Two people in one room through the real pages: register, create, join by the invite link,
watch the stream, chat, hand over the remote, drive the room's browser, talk, end.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, and two headless Chromium contexts with fake microphones."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, WebSocketRoute, expect

from tests.support.browser import (
    PASSWORD,
    click_stream,
    cursor_drawn,
    frames_in,
    near,
    pixel,
    register,
    send_chat,
    stream_playing,
    wait_colour,
)
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(420)]

BLUE, RED, PURPLE, GREEN = (30, 136, 229), (229, 57, 53), (142, 36, 170), (67, 160, 71)
BACKGROUND = (0.70, 0.83)  # a spot of the test page's background
BUTTON = (250 / 1280, 175 / 720)  # the centre of its button
FIELD = (350 / 1280, 350 / 720)  # the centre of its text field


async def until(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def until_async(check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def new_user(browser: Browser, web: Web, name: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(
        viewport={"width": 1440, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = await ctx.new_page()
    await register(page, web.url, name)
    return ctx, page


async def create_room(page: Page, web: Web, title: str) -> str:
    await page.get_by_label("Room title").fill(title)
    await page.get_by_label("Start page").fill(web.page("index.html"))
    await page.get_by_role("button", name="Create room").click()
    await page.wait_for_url("**/room/*", timeout=15_000)
    return page.url.rsplit("/", 1)[-1]


async def test_two_people_watch_chat_drive_talk_and_end(
    web: Web, browser: Browser, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ana_name, ben_name = f"ana{tag}", f"ben{tag}"
    a_ctx, ana = await new_user(browser, web, ana_name)
    b_ctx, ben = await new_user(browser, web, ben_name)
    try:
        await ana.screenshot(path=screenshots / "dashboard.png")
        code = await create_room(ana, web, "Movie night")
        await stream_playing(ana)

        # The invite link, as the button copies it.
        await ana.get_by_role("button", name="Copy invite link").click()
        link = await ana.evaluate("() => navigator.clipboard.readText()")
        assert link == f"{web.url}/room/{code}"
        await ben.goto(link)
        await stream_playing(ben)

        # Both see the page the room shows, and frames keep coming.
        for page in (ana, ben):
            assert await frames_in(page, 1500) >= 5
            await wait_colour(page, *BACKGROUND, BLUE)

        # Chat both ways, and the history is there after a reload.
        await send_chat(ana, "hi ben, popcorn ready?")
        await expect(ben.get_by_role("log", name="Chat")).to_contain_text("hi ben, popcorn ready?")
        await send_chat(ben, "always 🍿")
        await expect(ana.get_by_role("log", name="Chat")).to_contain_text("always 🍿")
        await ben.reload()
        await expect(ben.get_by_role("log", name="Chat")).to_contain_text("hi ben, popcorn ready?")
        await expect(ben.get_by_role("log", name="Chat")).to_contain_text("always 🍿")
        await stream_playing(ben)

        people = ana.get_by_role("list", name="Participants")
        await expect(people).to_contain_text(ben_name)
        await expect(ana.get_by_text("You have the remote")).to_be_visible()
        await ana.screenshot(path=screenshots / "room.png")

        # Ana passes the remote to Ben.
        await ana.get_by_role("button", name=f"Actions for {ben_name}").click()
        await ana.get_by_role("button", name=f"Give the remote to {ben_name}").click()
        await expect(ben.get_by_text("You have the remote")).to_be_visible()
        await expect(ana.get_by_text("You have the remote")).to_have_count(0)

        # Ben clicks the page's button and types into its field; Ana sees both in the stream.
        await click_stream(ben, *BUTTON)
        await wait_colour(ana, *BACKGROUND, RED)
        # Ana, who no longer holds the remote, sees Ben's cursor drawn over the stream.
        await until_async(lambda: cursor_drawn(ana), within=10)
        await click_stream(ben, *FIELD)
        await ben.keyboard.type("hello", delay=30)
        await wait_colour(ana, *BACKGROUND, PURPLE)

        # Ben navigates with the address bar; everyone's bar follows.
        address = ben.get_by_label("Address")
        await address.click()
        await address.fill(web.page("two.html"))
        await address.press("Enter")
        await wait_colour(ana, *BACKGROUND, GREEN)
        await expect(ana.get_by_label("Address")).to_have_value(web.page("two.html"))
        await expect(ana.get_by_label("Address")).to_be_disabled()

        # Ana, the host, takes the remote back.
        await ana.get_by_role("button", name="Take remote", exact=True).click()
        await expect(ana.get_by_text("You have the remote")).to_be_visible()
        await expect(ben.get_by_role("button", name="Request remote")).to_be_visible()

        # Voice: both join and each sees the link to the other connected. Both fake microphones
        # play the same recording in step, so each browser's echo canceller may take the other's
        # voice for an echo of its own: one talks at a time, as people do, and the other sees it.
        await ana.get_by_role("button", name="Join voice").click()
        await ben.get_by_role("button", name="Join voice").click()
        await expect(ana.get_by_role("button", name="Mute", exact=True)).to_be_visible()

        def row(page: Page, name: str) -> Locator:
            people = page.get_by_role("list", name="Participants")
            return people.get_by_role("listitem", name=name)

        await expect(row(ana, ben_name)).to_have_attribute(
            "data-voice-link", "connected", timeout=20_000
        )
        await expect(row(ben, ana_name)).to_have_attribute(
            "data-voice-link", "connected", timeout=20_000
        )
        await ben.get_by_role("button", name="Mute", exact=True).click()
        await expect(ben.get_by_role("button", name="Unmute", exact=True)).to_be_visible()
        await expect(row(ana, ben_name)).to_contain_text("muted")
        await expect(row(ben, ana_name)).to_have_attribute("data-speaking", "true", timeout=20_000)
        await ana.get_by_role("button", name="Mute", exact=True).click()
        await ben.get_by_role("button", name="Unmute", exact=True).click()
        await expect(row(ben, ana_name)).to_contain_text("muted")
        await expect(row(ana, ben_name)).to_have_attribute("data-speaking", "true", timeout=20_000)
        await ana.screenshot(path=screenshots / "room-voice.png")

        # Ana ends the room; Ben is told in words.
        await ana.get_by_role("button", name="End room").click()
        await ana.get_by_role("button", name="End the room").click()
        await expect(ben.get_by_text("This room has ended")).to_be_visible(timeout=15_000)
        await expect(ben.get_by_text("Ended by the host.")).to_be_visible()
        await ben.screenshot(path=screenshots / "room-ended.png")
    finally:
        await a_ctx.close()
        await b_ctx.close()


async def test_room_socket_recovers_after_a_seq_gap_and_a_killed_socket(
    web: Web, browser: Browser
) -> None:
    tag = uuid.uuid4().hex[:6]
    a_ctx, ana = await new_user(browser, web, f"ann{tag}")
    b_ctx, bob = await new_user(browser, web, f"bob{tag}")
    sockets: list[WebSocketRoute] = []
    try:
        # Ana's room socket goes through a proxy the test controls.
        async def proxy(ws: WebSocketRoute) -> None:
            ws.connect_to_server()
            sockets.append(ws)

        await ana.route_web_socket("**/api/rooms/*/ws", proxy)
        code = await create_room(ana, web, "Recovery")
        await stream_playing(ana)
        await bob.goto(f"{web.url}/room/{code}")
        await stream_playing(bob)
        await send_chat(bob, "first")
        await expect(ana.get_by_role("log", name="Chat")).to_contain_text("first")
        assert len(sockets) == 1

        # A broadcast numbered far ahead: Ana's page missed something, so it must reconnect and
        # take a fresh room.state instead of trusting what it built.
        sockets[0].send(
            '{"type": "chat.message", "seq": 999999, "ts": "2026-01-01T00:00:00Z", "data": '
            '{"id": "forged", "user": {"id": "x", "username": "ghost"}, "text": "from a gap",'
            ' "created_at": "2026-01-01T00:00:00Z"}}'
        )
        await until(lambda: len(sockets) > 1, within=10)
        await expect(ana.get_by_role("log", name="Chat")).to_contain_text("first")
        await expect(ana.get_by_role("log", name="Chat")).not_to_contain_text("from a gap")

        # The socket dies; what was said meanwhile is in the fresh state after the reconnect,
        # and the stream comes back.
        before = len(sockets)
        await sockets[-1].close(code=1011, reason="test kills the socket")
        await send_chat(bob, "while you were away")
        await until(lambda: len(sockets) > before, within=15)
        await expect(ana.get_by_role("log", name="Chat")).to_contain_text("while you were away")
        await expect(ana.get_by_role("status").filter(has_text="Reconnecting")).to_have_count(
            0, timeout=15_000
        )
        start = time.monotonic()
        await stream_playing(ana)
        assert await frames_in(ana, 1000) >= 5, "the stream did not come back"
        assert time.monotonic() - start < 30
        assert near(await pixel(ana, *BACKGROUND), BLUE)
        # Ana can still talk.
        await send_chat(ana, "back again")
        await expect(bob.get_by_role("log", name="Chat")).to_contain_text("back again")
    finally:
        await a_ctx.close()
        await b_ctx.close()


async def test_a_signed_out_visitor_of_an_invite_logs_in_and_lands_in_the_room(
    web: Web, browser: Browser
) -> None:
    tag = uuid.uuid4().hex[:6]
    a_ctx, host = await new_user(browser, web, f"hst{tag}")
    b_ctx, guest = await new_user(browser, web, f"gst{tag}")
    try:
        code = await create_room(host, web, "Invite test")
        # The guest is signed out on this device (a fresh context), then follows the link.
        await guest.get_by_role("button", name="Log out").click()
        await guest.wait_for_url(f"{web.url}/")
        await guest.goto(f"{web.url}/room/{code}")
        await guest.wait_for_url("**/login?next=*")
        await guest.get_by_label("Username").fill(f"gst{tag}")
        await guest.get_by_label("Password").fill(PASSWORD)
        await guest.get_by_role("button", name="Log in", exact=True).click()
        await guest.wait_for_url(f"**/room/{code}")
        await stream_playing(guest)
        await expect(
            host.get_by_role("list", name="Participants").get_by_role("listitem", name=f"gst{tag}")
        ).to_be_visible()
    finally:
        await a_ctx.close()
        await b_ctx.close()
