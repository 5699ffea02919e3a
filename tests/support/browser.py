"""What a test does in a room page the way a person would, and what it reads off the stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from playwright.async_api import Page, expect

PASSWORD = "correct horse battery 7"

# The room page's <video> shows the stream with object-fit: contain; these return the point of
# the picture at fractions (fx, fy) of the room browser's screen, letterboxing excluded.
_POINT_JS = """([fx, fy]) => {
  const v = document.querySelector('video[aria-label="Shared browser"]');
  const r = v.getBoundingClientRect();
  const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
  const w = v.videoWidth * s, h = v.videoHeight * s;
  return {x: r.left + (r.width - w) / 2 + fx * w, y: r.top + (r.height - h) / 2 + fy * h};
}"""

_PIXEL_JS = """([fx, fy]) => {
  const v = document.querySelector('video[aria-label="Shared browser"]');
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const px = g.getImageData(Math.round(fx * c.width), Math.round(fy * c.height), 1, 1);
  return Array.from(px.data.slice(0, 3));
}"""

_FRAMES_JS = """(ms) => new Promise((done) => {
  const v = document.querySelector('video[aria-label="Shared browser"]');
  let n = 0;
  const tick = () => { n += 1; v.requestVideoFrameCallback(tick); };
  v.requestVideoFrameCallback(tick);
  setTimeout(() => done(n), ms);
})"""


async def register(page: Page, base: str, username: str) -> None:
    await page.goto(f"{base}/register")
    await page.get_by_label("Email").fill(f"{username}@example.com")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url("**/dashboard", timeout=15_000)


async def stream_playing(page: Page, within: float = 60) -> float:
    """Waits until the stream shows frames; returns when (monotonic) the first was painted."""
    await page.wait_for_function(
        "() => { const v = document.querySelector('video[aria-label=\"Shared browser\"]');"
        " return v && v.videoWidth > 0 && v.currentTime > 0; }",
        timeout=within * 1000,
        polling=20,
    )
    return time.monotonic()


async def frames_in(page: Page, ms: int = 1000) -> int:
    return int(await page.evaluate(_FRAMES_JS, ms))


async def pixel(page: Page, fx: float, fy: float) -> list[int] | None:
    got: Any = await page.evaluate(_PIXEL_JS, [fx, fy])
    return list(got) if got else None


def near(rgb: list[int] | None, want: tuple[int, int, int], tol: int = 40) -> bool:
    return rgb is not None and all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))


async def wait_colour(
    page: Page, fx: float, fy: float, want: tuple[int, int, int], within: float = 15
) -> list[int] | None:
    deadline = time.monotonic() + within
    rgb = None
    while time.monotonic() < deadline:
        rgb = await pixel(page, fx, fy)
        if near(rgb, want):
            return rgb
        await asyncio.sleep(0.1)
    raise AssertionError(f"stream pixel at {fx:.2f},{fy:.2f} is {rgb}, wanted about {want}")


async def stream_point(page: Page, fx: float, fy: float) -> tuple[float, float]:
    pt = await page.evaluate(_POINT_JS, [fx, fy])
    return float(pt["x"]), float(pt["y"])


async def click_stream(page: Page, fx: float, fy: float) -> None:
    x, y = await stream_point(page, fx, fy)
    await page.mouse.click(x, y)


async def send_chat(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_role("log", name="Chat")).to_contain_text(text)


_CURSOR_JS = """() => {
  const c = document.querySelector('canvas[aria-hidden="true"]');
  if (!c || c.hidden || !c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
  return false;
}"""


async def cursor_drawn(page: Page) -> bool:
    """The holder's cursor is drawn over the stream (for viewers who do not hold the remote)."""
    return bool(await page.evaluate(_CURSOR_JS))


async def blur(page: Page) -> None:
    """Nothing has the focus: the room page's own keys (Space, F) apply."""
    await page.evaluate(
        "() => document.activeElement instanceof HTMLElement && document.activeElement.blur()"
    )


async def stage_is_fullscreen(page: Page) -> bool:
    """Fullscreen is the room's stage (the stream with the media bar and the reactions), not the
    bare video."""
    return bool(
        await page.evaluate(
            """() => {
              const stage = document.fullscreenElement;
              return stage !== null && stage.tagName !== 'VIDEO'
                && stage.querySelector('video') !== null
                && stage.querySelector('[role=toolbar][aria-label=Media]') !== null
                && stage.querySelector('[role=log][aria-label=Reactions]') !== null;
            }"""
        )
    )
