"""Clipboard and files through the room page (issue 22), with a real room browser: the host,
who holds the remote, pastes into an input of the room's page with Ctrl+V in the stream and with
the "Paste" button (and its box, where the browser keeps its clipboard to itself), copies the
text back with Ctrl+C, and answers the page's file chooser ("File for the room's page") with a
file, then declines one with Cancel. A guest sees none of it. Screenshots: the file prompt, the
copied text, the paste box.

Real parts only: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent), the built
web app, headless Chromium. The room's page (tests/agent/pages/clipfiles.html) writes what it got
into its URL's fragment, which the room page shows in its address bar."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.support.browser import click_stream, register, stream_playing
from tests.support.servers import static_files
from tests.support.web import Web

pytestmark = [pytest.mark.x11, pytest.mark.timeout(300)]

PAGES = Path(__file__).resolve().parents[1] / "agent" / "pages"
# Where the room page's parts are, as fractions of the room's screen (the page's fixed layout).
FIELD = (0.30, 0.095)
FILE = (0.30, 0.45)
URI_SAFE = "!~*'()"  # what encodeURIComponent leaves as it is, besides letters and digits


@pytest.fixture(scope="module")
def clip_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("clipfiles")
    shutil.copy(PAGES / "clipfiles.html", root / "clipfiles.html")
    with static_files(root) as url:
        yield f"{url}/clipfiles.html"


async def new_user(
    browser: Browser, web: Web, name: str, clipboard: bool
) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    if clipboard:
        await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=web.url)
    page = await ctx.new_page()
    await register(page, web.url, name)
    return ctx, page


async def page_reports(page: Page, clip_page: str, key: str, value: str) -> None:
    """The room's page says `key` is `value` in its URL's fragment, which the room page shows in
    its address bar."""
    want = f"{clip_page}#{key}={quote(value, safe=URI_SAFE)}"
    await expect(page.get_by_label("Address")).to_have_value(want, timeout=20_000)


async def test_paste_copy_back_and_a_file_for_the_rooms_page(
    web: Web, browser: Browser, clip_page: str, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    a_ctx, ana = await new_user(browser, web, f"ana{tag}", clipboard=True)
    b_ctx, ben = await new_user(browser, web, f"ben{tag}", clipboard=False)
    try:
        await ana.get_by_label("Room title").fill("Clipboard night")
        await ana.get_by_label("Start page").fill(clip_page)
        await ana.get_by_role("button", name="Create room").click()
        await ana.wait_for_url("**/room/*", timeout=15_000)
        code = ana.url.rsplit("/", 1)[-1]
        await ben.goto(f"{web.url}/room/{code}")
        await stream_playing(ana, within=90)
        await stream_playing(ben)
        await expect(ana.get_by_role("button", name="Paste", exact=True)).to_be_enabled()
        await expect(ben.get_by_role("button", name="Paste", exact=True)).to_be_disabled()

        # Ctrl+V in the stream: ana's own clipboard reaches the room page's focused input.
        await ana.evaluate("navigator.clipboard.writeText('hello from ana 👋')")
        await click_stream(ana, *FIELD)
        await asyncio.sleep(0.5)  # the click (data channel) lands before the paste (socket)
        await ana.keyboard.press("Control+V")
        await page_reports(ana, clip_page, "field", "hello from ana 👋")

        # The "Paste" button reads the clipboard where the browser lets it.
        await ana.evaluate("navigator.clipboard.writeText(' + more')")
        await ana.get_by_role("button", name="Paste", exact=True).click()
        await page_reports(ana, clip_page, "field", "hello from ana 👋 + more")

        # The page's file chooser: ana is asked, picks a file, the page has it.
        await click_stream(ana, *FILE)
        prompt = ana.get_by_role("dialog", name="File for the room's page")
        await expect(prompt).to_be_visible(timeout=20_000)
        await expect(prompt).to_contain_text("(.txt,text/plain)")
        await ana.screenshot(path=screenshots / "clipfiles-file-prompt.png")
        await prompt.get_by_label("File for the room's page").set_input_files(
            {
                "name": "notes.txt",
                "mimeType": "text/plain",
                "buffer": b"Subtitles, line one",
            }
        )
        await page_reports(ana, clip_page, "file", "notes.txt:Subtitles, line one")
        await expect(prompt).to_contain_text("Handed to the page")
        await prompt.get_by_role("button", name="Close").click()

        # Again, and Cancel: the prompt goes, the page keeps its file.
        await click_stream(ana, *FILE)
        await expect(prompt).to_be_visible(timeout=20_000)
        await prompt.get_by_role("button", name="Cancel").click()
        await expect(prompt).to_have_count(0)

        # Ben never holds the remote: no prompt, no copied text, nothing pasted by him.
        await expect(ben.get_by_role("dialog", name="File for the room's page")).to_have_count(0)
        await expect(ben.get_by_role("status", name="Copied from the room")).to_have_count(0)
        await page_reports(ben, clip_page, "file", "notes.txt:Subtitles, line one")

        # Where the browser keeps its clipboard to itself (no permission), "Paste" opens a box.
        await a_ctx.clear_permissions()
        await click_stream(ana, *FIELD)
        await asyncio.sleep(0.5)
        await ana.keyboard.press("Control+a")  # what is pasted replaces the field's text
        await ana.get_by_role("button", name="Paste", exact=True).click()
        box = ana.get_by_role("dialog", name="Paste into the room")
        await expect(box).to_be_visible()
        await box.get_by_label("Text to paste").fill("typed in the box")
        await ana.screenshot(path=screenshots / "clipfiles-paste-box.png")
        await box.get_by_role("button", name="Paste into the room").click()
        await expect(box).to_be_hidden()
        await page_reports(ana, clip_page, "field", "typed in the box")

    finally:
        await a_ctx.close()
        await b_ctx.close()


async def test_what_the_holder_copies_comes_back_to_their_clipboard(
    web: Web, browser: Browser, clip_page: str, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    a_ctx, ana = await new_user(browser, web, f"ana{tag}", clipboard=True)
    try:
        await ana.get_by_label("Room title").fill("Copy night")
        await ana.get_by_label("Start page").fill(clip_page)
        await ana.get_by_role("button", name="Create room").click()
        await ana.wait_for_url("**/room/*", timeout=15_000)
        await stream_playing(ana, within=90)
        await ana.evaluate("navigator.clipboard.writeText('hello from ana 👋 + more')")
        await click_stream(ana, *FIELD)
        await asyncio.sleep(0.5)
        await ana.keyboard.press("Control+V")
        await page_reports(ana, clip_page, "field", "hello from ana 👋 + more")
        await ana.evaluate("navigator.clipboard.writeText('something else')")
        # Ctrl+A, Ctrl+C in the stream: the text comes back to ana's clipboard, and is shown.
        await click_stream(ana, *FIELD)
        # (lower case, as a person's Ctrl+A sends: Playwright's "Control+A" is a capital A, which
        # the stream types with Shift, and the room's key policy drops Ctrl+Shift+A and C)
        await ana.keyboard.press("Control+a")
        await ana.keyboard.press("Control+c")
        copied = ana.get_by_role("status", name="Copied from the room")
        await expect(copied).to_be_visible(timeout=20_000)
        await expect(copied.get_by_label("Copied text")).to_have_text("hello from ana 👋 + more")
        await expect(copied).to_contain_text("On your clipboard")
        assert await ana.evaluate("navigator.clipboard.readText()") == "hello from ana 👋 + more"
        await ana.screenshot(path=screenshots / "clipfiles-copied.png")
        await copied.get_by_role("button", name="Dismiss").click()
        await expect(copied).to_have_count(0)
    finally:
        await a_ctx.close()
