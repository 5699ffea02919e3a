"""The room page's side of watching together (issue 21), held to the message contract on its
own: the room socket goes through a proxy the test controls, which keeps every frame the page
sends and hands the page the server's messages of the contract (`media.state`, `reaction`,
`pointer`, `queue.changed`, `room.settings`, a system `chat.message`). The control plane's and
the agent's parts are tested with a real clip in test_together_e2e.py; this one pins what the
page sends for each control and what it shows for each message, whatever the server does.

Real parts: `watchparty serve` (embedded, a local room), the built web app, headless Chromium."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from tests.support.browser import blur, register, stage_is_fullscreen, stream_playing, stream_point
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(300)]

PLAYING = {
    "present": True,
    "paused": False,
    "time": 12.0,
    "duration": 600.0,
    "rate": 1.0,
    "muted": False,
    "ended": False,
    "title": "A film",
}


class Socket:
    """The page's room socket through a proxy: what the page sent, and a way to speak to it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.routes: list[WebSocketRoute] = []
        self.user_id = ""

    async def attach(self, page: Page) -> None:
        async def proxy(ws: WebSocketRoute) -> None:
            server = ws.connect_to_server()

            def from_page(msg: str | bytes) -> None:
                if isinstance(msg, str):
                    self.sent.append(json.loads(msg))
                server.send(msg)

            def from_server(msg: str | bytes) -> None:
                if isinstance(msg, str) and '"room.state"' in msg[:40]:
                    self.user_id = json.loads(msg)["data"]["you"]["user_id"]
                ws.send(msg)

            ws.on_message(from_page)
            server.on_message(from_server)
            self.routes.append(ws)

        await page.route_web_socket("**/api/rooms/*/ws", proxy)

    def deliver(self, type_: str, data: dict[str, Any]) -> None:
        # No `seq`: the page takes unnumbered messages as they come (no gap to resync on).
        self.routes[-1].send(json.dumps({"type": type_, "data": data}))

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m["data"] for m in self.sent if m.get("type") == type_]

    async def wait_for(self, type_: str, count: int = 1, within: float = 5) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within
        while len(self.of(type_)) < count:
            assert time.monotonic() < deadline, f"the page sent no {type_} ({self.sent[-5:]})"
            await asyncio.sleep(0.05)
        return self.of(type_)


async def join(
    browser: Browser, web: Web, name: str, code: str | None, width: int = 1440, height: int = 900
) -> tuple[BrowserContext, Page, Socket, str]:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    page = await ctx.new_page()
    sock = Socket()
    await sock.attach(page)
    await register(page, web.url, name)
    if code is None:
        await page.get_by_label("Room title").fill("Film club")
        await page.get_by_label("Start page").fill(web.page("index.html"))
        await page.get_by_role("button", name="Create room").click()
        await page.wait_for_url("**/room/*", timeout=15_000)
        code = page.url.rsplit("/", 1)[-1]
    else:
        await page.goto(f"{web.url}/room/{code}")
    await stream_playing(page, within=90)
    return ctx, page, sock, code


async def test_the_room_page_speaks_the_watch_together_contract(
    web: Web, browser: Browser, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ana_name, ben_name = f"ana{tag}", f"ben{tag}"
    a_ctx, ana, a_sock, code = await join(browser, web, ana_name, None)
    b_ctx, ben, b_sock, _ = await join(browser, web, ben_name, code)
    try:
        # No media: no media bar.
        await expect(ana.get_by_role("toolbar", name="Media")).to_have_count(0)
        for sock in (a_sock, b_sock):
            sock.deliver("media.state", PLAYING)
        media = ana.get_by_role("toolbar", name="Media")
        await expect(media.get_by_role("button", name="Pause", exact=True)).to_be_visible()
        slider = media.get_by_role("slider", name="Position")
        await expect(slider).to_have_attribute("aria-valuemax", "600")
        # The position runs on between reports while it plays.
        await expect(slider).not_to_have_attribute("aria-valuenow", "12", timeout=3_000)

        # Play/pause and the slider's keys send media.cmd as the contract names them.
        await media.get_by_role("button", name="Pause", exact=True).click()
        assert (await a_sock.wait_for("media.cmd"))[-1] == {"action": "pause"}
        a_sock.deliver("media.state", {**PLAYING, "paused": True, "time": 100.4})
        await expect(media.get_by_role("button", name="Play", exact=True)).to_be_visible()
        await expect(slider).to_have_attribute("aria-valuenow", "100")
        await slider.focus()
        await slider.press("ArrowRight")
        await slider.press("ArrowRight")
        seeks = await a_sock.wait_for("media.cmd", 3)
        assert seeks[1:] == [
            {"action": "seek", "value": pytest.approx(105.4)},
            {"action": "seek", "value": pytest.approx(110.4)},
        ]
        await expect(slider).to_have_attribute("aria-valuenow", "110")
        await slider.press("ArrowLeft")
        await slider.press("Home")
        await slider.press("End")
        cmds = await a_sock.wait_for("media.cmd", 6)
        assert [c.get("value") for c in cmds[3:]] == [pytest.approx(105.4), 0, 600]
        a_sock.deliver("media.state", {**PLAYING, "paused": True, "time": 42.0})
        await expect(slider).to_have_attribute("aria-valuenow", "42", timeout=4_000)
        # Space plays when nothing that takes keys has the focus.
        await blur(ana)
        await ana.keyboard.press("Space")
        assert (await a_sock.wait_for("media.cmd", 7))[-1] == {"action": "play"}

        # Reactions: the buttons send reaction.send; a `reaction` shows with the sender's name.
        await ana.get_by_role("button", name="React 👏").click()
        assert (await a_sock.wait_for("reaction.send"))[-1] == {"emoji": "👏"}
        a_sock.deliver(
            "reaction", {"id": "r1", "user_id": "x", "username": ben_name, "emoji": "😂"}
        )
        log = ana.get_by_role("log", name="Reactions")
        await expect(log).to_contain_text("😂")
        await expect(log).to_contain_text(ben_name)

        # The queue: "Add to queue" + "Add" send queue.add; queue.changed fills "Up next".
        up_next = ana.get_by_role("list", name="Up next")
        await expect(up_next.get_by_role("listitem")).to_have_count(0)
        await ana.screenshot(path=screenshots / "together-page-queue-empty.png")
        await ana.get_by_role("textbox", name="Add to queue").fill("example.org/film")
        await ana.get_by_role("button", name="Add", exact=True).click()
        assert (await a_sock.wait_for("queue.add"))[-1] == {"url": "https://example.org/film"}
        # Where the control plane has the queue it answers with queue.changed: let that pass
        # before handing the page a queue of the test's own.
        await ana.wait_for_timeout(1_000)
        entries = [
            {
                "id": "q1",
                "url": "https://example.org/film",
                "title": "The film",
                "added_by": {"id": a_sock.user_id, "username": ana_name},
                "added_at": "2026-12-07T06:00:00Z",
            },
            {
                "id": "q2",
                "url": "https://example.org/short",
                "added_by": {"id": b_sock.user_id, "username": ben_name},
                "added_at": "2026-12-07T06:00:05Z",
            },
        ]
        for sock in (a_sock, b_sock):
            sock.deliver("queue.changed", {"queue": entries})
        await expect(up_next.get_by_role("listitem")).to_have_count(2)
        await expect(up_next.get_by_role("button", name="Remove")).to_have_count(2)  # the host
        await up_next.get_by_role("button", name="Remove").first.click()
        assert (await a_sock.wait_for("queue.remove"))[-1] == {"id": "q1"}
        await up_next.get_by_role("button", name="Move up").last.click()
        assert (await a_sock.wait_for("queue.move"))[-1] == {"id": "q2", "index": 0}
        # Ben, a guest, may remove only his own entry.
        b_up_next = ben.get_by_role("list", name="Up next")
        await expect(b_up_next.get_by_role("button", name="Remove")).to_have_count(1)
        await expect(b_up_next.get_by_role("button", name="Move up")).to_have_count(0)

        # A system line reads as the room's, not as someone's words.
        a_sock.deliver(
            "chat.message",
            {
                "id": f"s-{tag}",
                "user": {"id": "b", "username": ben_name},
                "text": f"{ben_name} paused at 0:42",
                "created_at": "2026-12-07T06:00:06Z",
                "kind": "system",
            },
        )
        chat = ana.get_by_role("log", name="Chat")
        await expect(chat.locator("[data-kind=system]")).to_contain_text(
            f"{ben_name} paused at 0:42"
        )

        # Pointing: "Point", then moving over the picture sends pointer.show (0..1 of the
        # stream); a `pointer` shows a dot with the name.
        a_sock.deliver("media.state", {**PLAYING, "time": 42.0})
        await ana.get_by_role("button", name="Point").click()
        x, y = await stream_point(ana, 0.25, 0.5)
        await ana.mouse.move(x, y)
        await ana.mouse.move(x + 3, y + 3)
        shown = (await a_sock.wait_for("pointer.show"))[-1]
        assert 0.2 < shown["x"] < 0.3 and 0.45 < shown["y"] < 0.55
        a_sock.deliver("pointer", {"user_id": "b", "username": ben_name, "x": 0.6, "y": 0.4})
        dot = ana.locator(f"[data-pointer='{ben_name}']")
        await expect(dot.get_by_text(ben_name)).to_be_visible()
        # Pointing never drives: the holder's page sent no input fallback for those moves.
        assert not a_sock.of("browser.mouse_move")
        a_sock.deliver("reaction", {"id": "r2", "user_id": "x", "username": ben_name, "emoji": "❤️"})
        await ana.screenshot(path=screenshots / "together-page.png")
        await ana.get_by_role("button", name="Point").click()

        # F: the room's stage in fullscreen, with the media bar, reactions and a chat overlay.
        await blur(ana)
        await ana.keyboard.press("f")
        await ana.wait_for_function("() => document.fullscreenElement !== null")
        assert await stage_is_fullscreen(ana)
        await expect(ana.get_by_role("textbox", name="Say something")).to_be_visible()
        a_sock.deliver(
            "chat.message",
            {
                "id": f"m-{tag}",
                "user": {"id": "b", "username": ben_name},
                "text": "this scene!",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        a_sock.deliver(
            "reaction", {"id": "r3", "user_id": "x", "username": ben_name, "emoji": "😮"}
        )
        await ana.wait_for_timeout(500)
        await ana.screenshot(path=screenshots / "together-page-fullscreen.png")
        await ana.keyboard.press("f")
        await ana.wait_for_function("() => document.fullscreenElement === null")

        # The host's setting; a guest's controls follow `room.settings`.
        await expect(ben.get_by_role("checkbox", name="Anyone can pause")).to_have_count(0)
        await expect(ana.get_by_role("checkbox", name="Anyone can pause")).to_be_checked()
        b_media = ben.get_by_role("toolbar", name="Media")
        await expect(b_media.get_by_role("button", name="Pause", exact=True)).to_be_enabled()
        b_sock.deliver(
            "room.settings", {"anyone_can_pause": False, "queue_host_only": True, "block_ads": True}
        )
        await expect(b_media.get_by_role("button", name="Pause", exact=True)).to_be_disabled()
        await expect(b_media.get_by_role("slider", name="Position")).to_be_disabled()
        await expect(ben.get_by_role("textbox", name="Add to queue")).to_be_disabled()
        await blur(ben)
        await ben.keyboard.press("Space")
        await ben.wait_for_timeout(300)
        assert not b_sock.of("media.cmd"), "a guest left out sent a media command"
        await ben.screenshot(path=screenshots / "together-page-disabled.png")
    finally:
        await a_ctx.close()
        await b_ctx.close()


async def test_the_watch_together_controls_fit_a_phone(
    web: Web, browser: Browser, screenshots: Path
) -> None:
    ctx = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = await ctx.new_page()
    sock = Socket()
    await sock.attach(page)
    try:
        await register(page, web.url, f"cy{uuid.uuid4().hex[:6]}")
        await page.get_by_label("Room title").fill("Phone")
        await page.get_by_label("Start page").fill(web.page("index.html"))
        await page.get_by_role("button", name="Create room").click()
        await page.wait_for_url("**/room/*", timeout=15_000)
        await stream_playing(page, within=90)
        sock.deliver("media.state", PLAYING)
        media = page.get_by_role("toolbar", name="Media")
        await expect(media).to_be_visible()
        # Nothing of the bars spills past the screen's width.
        overflow = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than a phone"
        for name in ("React 👍", "Point", "Fullscreen"):
            box = await page.get_by_role("button", name=name).bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390, name
        await page.screenshot(path=screenshots / "together-page-phone.png", full_page=True)
    finally:
        await ctx.close()
