"""The room page's Quality menu and quality line in a real room (local room, built web app,
headless Chromium): the menu offers Auto, 720p, 480p and 360p; a choice goes to the agent as
0x0B on the `input` data channel, is saved in this browser and sent again first thing on the
next peer; the agent's quality status (0x83) shows the rung and, when the link limits it, says so
in words. Screenshots: the menu open, and the limiting line.

The agent's side of 0x83 is another branch's: here the status is delivered on the page's real
`input` channel as a message event, the way the data channel hands the agent's bytes to the app.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import register, stream_playing
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(240)]

# Keeps the page's data channels and every binary message it sends on them.
RECORD_CHANNELS_JS = """(() => {
  window.__channels = [];
  window.__sent = [];
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const ch = create.apply(this, args);
    window.__channels.push(ch);
    const send = ch.send.bind(ch);
    ch.send = (data) => {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      window.__sent.push({label: ch.label, bytes: Array.from(bytes)});
      return send(data);
    };
    return ch;
  };
})()"""

# The quality caps (0x0B, u16 LE) the page sent on `input`, in order.
CAPS_JS = """() => window.__sent.filter((m) => m.label === 'input' && m.bytes[0] === 0x0b)
  .map((m) => m.bytes[1] | (m.bytes[2] << 8))"""

STATS_SENT_JS = """() => window.__sent.filter((m) => m.label === 'input' && m.bytes[0] === 0x0c)
  .map((m) => m.bytes.length)"""

# An agent quality status (0x83): 854x480 at 30 fps, flags, 1100 kbit/s, cap 0.
STATUS_JS = """(flags) => {
  const ch = window.__channels.filter((c) => c.label === 'input' && c.readyState === 'open').pop();
  const b = new DataView(new ArrayBuffer(13));
  b.setUint8(0, 0x83); b.setUint16(1, 854, true); b.setUint16(3, 480, true); b.setUint8(5, 30);
  b.setUint8(6, flags); b.setUint32(7, 1100, true); b.setUint16(11, 0, true);
  ch.dispatchEvent(new MessageEvent('message', {data: b.buffer}));
}"""


async def open_room(browser: Browser, web: Web) -> Page:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    await ctx.add_init_script(script=RECORD_CHANNELS_JS)
    page = await ctx.new_page()
    await register(page, web.url, f"q{uuid.uuid4().hex[:8]}")
    await page.get_by_label("Room title").fill("Quality night")
    await page.get_by_label("Start page").fill(web.page("index.html"))
    await page.get_by_role("button", name="Create room").click()
    await page.wait_for_url("**/room/*", timeout=15_000)
    await stream_playing(page, within=90)
    return page


async def test_quality_menu_caps_this_viewer_and_the_line_says_what_limits_it(
    web: Web, browser: Browser, screenshots: Path
) -> None:
    page = await open_room(browser, web)
    try:
        await page.wait_for_function(f"() => ({CAPS_JS})().length > 0", timeout=15_000)
        assert await page.evaluate(CAPS_JS) == [0]  # Auto on open (nothing saved yet)
        menu_button = page.get_by_role("button", name="Quality", exact=True)
        await expect(menu_button).to_have_text("Auto")
        await menu_button.click()
        menu = page.get_by_role("menu", name="Quality", exact=True)
        items = menu.get_by_role("menuitemradio")
        await expect(items).to_have_text(["Auto", "720p", "480p", "360p"])
        await expect(menu.get_by_role("menuitemradio", name="Auto")).to_have_attribute(
            "aria-checked", "true"
        )
        await page.screenshot(path=screenshots / "room-quality-menu.png")
        # Keyboard: the menu opens on the checked item, arrows move, Escape closes it and
        # gives the focus back to its button.
        await expect(menu.get_by_role("menuitemradio", name="Auto")).to_be_focused()
        await page.keyboard.press("ArrowDown")
        await expect(menu.get_by_role("menuitemradio", name="720p")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(menu).to_be_hidden()
        await expect(menu_button).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(menu).to_be_visible()
        await menu.get_by_role("menuitemradio", name="480p").click()
        await expect(menu).to_be_hidden()
        await expect(menu_button).to_have_text("480p")
        assert await page.evaluate(CAPS_JS) == [0, 480]
        assert await page.evaluate("() => localStorage.getItem('wp.quality')") == "480"
        # Receiver stats go to the agent about once a second, 31 bytes each.
        await page.wait_for_function(f"() => ({STATS_SENT_JS})().length >= 2", timeout=10_000)
        assert set(await page.evaluate(STATS_SENT_JS)) == {31}

        line = page.get_by_label("Connection quality")
        await page.evaluate(STATUS_JS, 1)  # the link limits this viewer
        await expect(line).to_contain_text("480p · 30 fps")
        await expect(line).to_contain_text("Your connection is limiting the picture")
        await page.screenshot(path=screenshots / "room-quality-limited.png")
        await page.evaluate(STATUS_JS, 2)  # capped by the viewer's own choice
        await expect(line).not_to_contain_text("Your connection is limiting the picture")
        await expect(line).to_contain_text("Capped by your quality choice")

        # A reload is a new peer: the saved choice is the first cap it sends.
        await page.reload()
        await stream_playing(page, within=60)
        await page.wait_for_function(f"() => ({CAPS_JS})().length > 0", timeout=15_000)
        assert (await page.evaluate(CAPS_JS))[0] == 480
        await expect(page.get_by_role("button", name="Quality", exact=True)).to_have_text("480p")
    finally:
        await page.context.close()
