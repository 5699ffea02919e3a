"""The room browser's tabs (issue 22) in a real room browser, seen by a real viewer: the holder
opens, switches and closes tabs and the picture, `browser.status` and navigation follow the tab
on screen; someone else's commands are dropped by the agent too; the cap and the last tab hold;
a page's `target=_blank` link, `window.open` and pop-up become tabs up to the cap; background
tabs' media is muted (and the media watcher follows the tab on screen); the guard holds in every
tab; a reconnecting agent says its tabs again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent import (
    AgentProcess,
    FakeControlPlane,
    Viewer,
    browser_command,
    page_targets,
    tab_evaluate,
    target_call,
)
from tests.support.clip import make_clip
from tests.support.frames import is_colour, pixel
from tests.support.waits import eventually

pytestmark = pytest.mark.x11

GREEN, MAGENTA, BLUE = (0, 255, 0), (255, 0, 255), (0, 0, 255)
YELLOW, CYAN = (255, 255, 0), (0, 255, 255)
# Where tabs.html's link, window.open button and pop-up button are (fractions of the picture).
LINK, OPEN, POPUP = (0.156, 0.139), (0.5, 0.139), (0.844, 0.139)
HOLDER = "holder"


async def start(
    log_dir: Path, page: str, **kw: Any
) -> tuple[FakeControlPlane, AgentProcess, Viewer]:
    cp = FakeControlPlane()
    await cp.start()
    for name, path in kw.pop("media", {}).items():
        cp.media[name] = path
    agent = AgentProcess(cp, start_url=cp.page_url(page), **kw)
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", timeout=60)
    except TimeoutError:
        await agent.stop()
        await cp.stop()
        raise AssertionError("agent never became ready:\n" + agent.log_tail()) from None
    viewer = Viewer(cp, HOLDER)
    await viewer.connect()
    await viewer.wait_channels()
    await cp.set_holder(HOLDER)
    return cp, agent, viewer


async def stop(cp: FakeControlPlane, agent: AgentProcess, viewer: Viewer) -> None:
    await viewer.close()
    await agent.stop()
    await cp.stop()


def centre_is(colour: tuple[int, int, int]) -> Callable[[Any], bool]:
    return lambda f: is_colour(pixel(f, f.width // 2, f.height // 2), colour)


def last_tabs(cp: FakeControlPlane) -> dict[str, Any]:
    """The agent's latest `tabs.state` ({} before its first)."""
    states = [m["data"] for m in cp.messages if m["type"] == "tabs.state"]
    return states[-1] if states else {}


async def tabs_when(
    cp: FakeControlPlane, pred: Callable[[dict[str, Any]], bool], what: str = ""
) -> dict[str, Any]:
    """The latest `tabs.state` once it satisfies `pred`."""

    def check() -> dict[str, Any] | None:
        state = last_tabs(cp)
        return state if state and pred(state) else None

    result: dict[str, Any] = await eventually(check, what=what or f"tabs: {last_tabs(cp)}")
    return result


async def seen_since(
    cp: FakeControlPlane, start: int, pred: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first message the agent sent after `cp.messages[start]` that satisfies `pred`."""

    def check() -> dict[str, Any] | None:
        return next((m for m in cp.messages[start:] if pred(m)), None)

    found: dict[str, Any] = await eventually(check, what=what)
    return found


def status_url(part: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "browser.status" and part in m["data"]["url"]


def media_present(present: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "media.state" and bool(m["data"]["present"]) is present


def on_last(state: dict[str, Any]) -> bool:
    """The last tab of the strip is the one on screen (a page's new window)."""
    return bool(state["tabs"]) and state["active"] == state["tabs"][-1]["id"]


def titles(state: dict[str, Any]) -> list[str]:
    return [t["title"] for t in state["tabs"]]


def command(type_: str, by: str = HOLDER, **data: Any) -> tuple[str, dict[str, Any]]:
    return type_, {**data, "by": by, "conn": f"conn-{by}"}


async def refused(cp: FakeControlPlane, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    msg = await cp.after(type_, data, lambda m: m["type"] == "tabs.refused", 20)
    return dict(msg["data"])


async def test_the_holder_opens_switches_and_closes_tabs_and_the_picture_follows(
    log_dir: Path,
) -> None:
    cp, agent, viewer = await start(log_dir, "tabs.html?c=00ff00&t=Green")
    try:
        await viewer.wait_frame(centre_is(GREEN), 20)
        first = await tabs_when(cp, lambda s: titles(s) == ["Green"])
        green = first["tabs"][0]["id"]
        assert first["active"] == green and first["max"] == 5

        # Someone without the remote: the agent drops it too (the control plane checks first).
        no = await refused(cp, *command("tabs.open", by="mallory", url=None))
        assert no == {
            "type": "tabs.open",
            "code": "not_holder",
            "message": "Only the holder of the remote can do that",
            "conn": "conn-mallory",
        }
        assert len(await page_targets(agent.cdp_port)) == 1

        # The holder opens a tab: on screen, in the status, in the strip.
        magenta_url = cp.page_url("tabs.html?c=ff00ff&t=Magenta")
        mark = len(cp.messages)
        await cp.send(*command("tabs.open", url=magenta_url))
        await viewer.wait_frame(centre_is(MAGENTA), 20)
        # (a `tabs.state` may list the new tab before it is the one on screen: the next says so)
        two = await tabs_when(
            cp, lambda s: titles(s) == ["Green", "Magenta"] and s["active"] == s["tabs"][1]["id"]
        )
        magenta = two["tabs"][1]["id"]
        assert two["active"] == magenta
        await seen_since(cp, mark, status_url("t=Magenta"), "no status of the new tab")

        # Back to the first: the picture, the status and navigation follow the tab on screen.
        mark = len(cp.messages)
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        await tabs_when(cp, lambda s: s["active"] == green)
        await seen_since(cp, mark, status_url("t=Green"), "no status of the first tab")
        await cp.send("browser.navigate", {"url": cp.page_url("tabs.html?c=0000ff&t=Blue")})
        await viewer.wait_frame(centre_is(BLUE), 20)
        await tabs_when(cp, lambda s: titles(s) == ["Blue", "Magenta"])
        await cp.send("browser.back", {})  # the first tab's own history
        await viewer.wait_frame(centre_is(GREEN), 20)
        await tabs_when(cp, lambda s: titles(s) == ["Green", "Magenta"] and s["active"] == green)

        # The agent reconnects: it says its tabs again (the room's page reloads into the same).
        settled = last_tabs(cp)
        assert cp.agent is not None
        await cp.agent.close()
        again = await cp.wait_type("tabs.state", 30)
        assert again["data"] == settled

        # Close the tab on screen: the next one comes to the front.
        await cp.send(*command("tabs.close", id=green))
        await viewer.wait_frame(centre_is(MAGENTA), 20)
        await tabs_when(cp, lambda s: [t["id"] for t in s["tabs"]] == [magenta])
        assert [t["id"] for t in await page_targets(agent.cdp_port)] == [magenta]
        # The last tab stays; a tab that is gone is said so.
        assert (await refused(cp, *command("tabs.close", id=magenta)))["code"] == "last_tab"
        assert (await refused(cp, *command("tabs.switch", id=green)))["code"] == "no_such_tab"

        # The cap (WP_MAX_TABS, 5 by default), refused with a clear error.
        for n in range(2, 6):
            await cp.send(*command("tabs.open", url=None))
            await tabs_when(cp, lambda s, n=n: len(s["tabs"]) == n)  # type: ignore[misc]
        full = await refused(cp, *command("tabs.open", url=None))
        assert full["code"] == "too_many_tabs", full
        assert full["message"] == "The room's browser has at most 5 tabs"
        assert len(await page_targets(agent.cdp_port)) == 5
        assert titles(last_tabs(cp))[0] == "Magenta"
        hb = await cp.heartbeat()
        assert hb["tabs"] == 5, hb
        assert agent.proc is not None and agent.proc.returncode is None
    finally:
        await stop(cp, agent, viewer)


async def test_a_pages_new_windows_become_tabs_up_to_the_cap(log_dir: Path) -> None:
    cp, agent, viewer = await start(
        log_dir, "tabs.html?c=00ff00&t=Green", extra_env={"WP_MAX_TABS": "4"}
    )
    try:
        await viewer.wait_frame(centre_is(GREEN), 20)
        green = (await tabs_when(cp, lambda s: titles(s) == ["Green"]))["tabs"][0]["id"]

        # A link with target=_blank: a tab, on screen.
        viewer.click(*LINK)
        await viewer.wait_frame(centre_is(BLUE), 20)
        await tabs_when(cp, lambda s: titles(s) == ["Green", "Blue"] and on_last(s))

        # window.open (a user gesture: the holder's click): a tab, on screen.
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        viewer.click(*OPEN)
        await viewer.wait_frame(centre_is(YELLOW), 20)
        await tabs_when(cp, lambda s: titles(s) == ["Green", "Blue", "Yellow"] and on_last(s))

        # A pop-up (window.open with a size, a window of its own): a tab filling the picture.
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        viewer.click(*POPUP)
        frame_at = await viewer.wait_frame(centre_is(CYAN), 20)
        assert frame_at
        await tabs_when(
            cp, lambda s: titles(s) == ["Green", "Blue", "Yellow", "Cyan"] and on_last(s)
        )
        corners = await viewer.wait_frame(
            lambda f: all(
                is_colour(pixel(f, x, y), CYAN)
                for x, y in ((f.width // 8, f.height - 8), (f.width - 8, f.height - 8))
            ),
            20,
        )
        assert corners  # the pop-up's window has the room window's size, not 400x300

        # Past the cap (4): a page's new window is closed; the strip and the picture stay.
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        viewer.click(*LINK)

        async def refused_one() -> dict[str, Any] | None:
            hb = await cp.heartbeat()
            return hb if hb["tabs_refused"] >= 1 else None

        hb = await eventually(refused_one, what="a fifth window was not refused")
        assert hb["tabs"] == 4
        await eventually(lambda: _count(agent.cdp_port, 4), what="the fifth window stayed")
        assert titles(last_tabs(cp)) == ["Green", "Blue", "Yellow", "Cyan"]
        assert last_tabs(cp)["active"] == green
        await viewer.wait_frame(centre_is(GREEN), 20)
    finally:
        await stop(cp, agent, viewer)


async def _count(port: int, n: int) -> bool:
    return len(await page_targets(port)) == n


async def test_background_tabs_are_muted_and_the_media_follows_the_tab_on_screen(
    log_dir: Path, tmp_path: Path
) -> None:
    clip = await asyncio.to_thread(make_clip, tmp_path / "clip.webm", 6.0)
    cp, agent, viewer = await start(
        log_dir, "tabs.html?c=00ff00&t=Green&src=/media/clip.webm", media={"clip.webm": clip}
    )
    port = agent.cdp_port
    try:
        green = (await tabs_when(cp, lambda s: titles(s) == ["Green"]))["tabs"][0]["id"]

        async def in_green(expression: str) -> Any:
            with contextlib.suppress(Exception):
                return await tab_evaluate(port, green, expression)
            return None

        playing = (
            "(() => { const v = document.getElementById('v');"
            " return !!v && !v.paused && v.currentTime > 0; })()"
        )
        await eventually(lambda: in_green(playing), what="the clip does not play")
        assert await in_green("document.getElementById('v').muted") is False
        # The page mutes one element of its own.
        await in_green(
            "(() => { const x = document.createElement('video'); x.id = 'x'; x.muted = true;"
            " x.loop = true; x.src = '/media/clip.webm'; document.body.appendChild(x);"
            " x.play(); return true; })()"
        )
        await seen_since(cp, 0, media_present(True), "no media reported")

        # Another tab comes to the front: the first one's media is muted, and the media the
        # room sees is the tab on screen's (none).
        mark = len(cp.messages)
        await cp.send(*command("tabs.open", url=cp.page_url("tabs.html?c=ff00ff&t=Magenta")))
        await viewer.wait_frame(centre_is(MAGENTA), 20)
        await eventually(lambda: in_green("document.getElementById('v').muted"), what="not muted")
        await seen_since(cp, mark, media_present(False), "the background tab's media reported")
        # The page unmutes itself: muted again. Media it starts later: muted too.
        await in_green("document.getElementById('v').muted = false; true")
        await eventually(lambda: in_green("document.getElementById('v').muted"), what="unmuted")
        await in_green(
            "(() => { const w = document.createElement('video'); w.id = 'w'; w.loop = true;"
            " w.src = '/media/clip.webm'; document.body.appendChild(w); w.play();"
            " return true; })()"
        )
        # Muted once it has its data (whether Chromium then lets a hidden tab's muted video run
        # is its own choice: with the ad blocker's request interception it loaded later and
        # Chromium kept it paused; either way nothing is heard)
        late = (
            "(() => { const w = document.getElementById('w');"
            " return w.readyState > 0 && w.muted; })()"
        )
        await eventually(lambda: in_green(late), what="a later video is not muted")
        # The page cannot see how: nothing of the agent's in its own world.
        assert await in_green("typeof globalThis.__wpMute") == "undefined"

        # Back on screen: unmuted, except what the page muted itself; its media is the room's.
        mark = len(cp.messages)
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        unmuted = (
            "(() => { const $ = (i) => document.getElementById(i);"
            " return !$('v').muted && !$('w').muted && $('x').muted; })()"
        )
        await eventually(lambda: in_green(unmuted), what="not unmuted as it was")
        await seen_since(cp, mark, media_present(True), "the tab on screen's media not reported")
    finally:
        await stop(cp, agent, viewer)


async def test_the_guard_holds_in_every_tab(log_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secrets.json"
    secret.write_text('{"SECRET_KEY": "do-not-show-0123456789"}')
    cp, agent, viewer = await start(log_dir, "tabs.html?c=00ff00&t=Green")
    port = agent.cdp_port
    try:
        green = (await tabs_when(cp, lambda s: titles(s) == ["Green"]))["tabs"][0]["id"]
        # A second tab sent to a blocked URL: refused like the first tab, sent back.
        magenta_url = cp.page_url("tabs.html?c=ff00ff&t=Magenta")
        await cp.send(*command("tabs.open", url=magenta_url))
        state = await tabs_when(cp, lambda s: titles(s) == ["Green", "Magenta"])
        magenta = state["tabs"][1]["id"]
        await viewer.wait_frame(centre_is(MAGENTA), 20)
        # In the background (the first tab on screen), where only the guard sees it.
        await cp.send(*command("tabs.switch", id=green))
        await viewer.wait_frame(centre_is(GREEN), 20)
        res = await target_call(port, magenta, "Page.navigate", {"url": f"file://{secret}"})
        assert res["result"].get("errorText") == "net::ERR_BLOCKED_BY_ADMINISTRATOR", res

        async def back_on_magenta() -> bool:
            pages = {t["id"]: t["url"] for t in await page_targets(port)}
            return pages.get(magenta) == magenta_url

        await eventually(
            back_on_magenta, what=f"the second tab stayed on the blocked URL\n{agent.log_tail()}"
        )
        text = await tab_evaluate(port, magenta, "document.body.innerText")
        assert "do-not-show" not in str(text)
        assert await _guarded(cp, 1)
        await cp.send(*command("tabs.switch", id=magenta))
        await viewer.wait_frame(centre_is(MAGENTA), 20)

        # Windows opened straight onto a blocked scheme beside the tabs: closed, never tabs.
        for url in (f"file://{secret}", "chrome://version"):
            await browser_command(port, "Target.createTarget", {"url": url})
            await eventually(lambda: _count(port, 2), what=f"{url} stayed\n{agent.log_tail()}")
        assert {t["id"] for t in await page_targets(port)} == {green, magenta}
        await tabs_when(cp, lambda s: titles(s) == ["Green", "Magenta"] and s["active"] == magenta)
        await eventually(lambda: _guarded(cp, 3), what="the blocked windows were not counted")
        await viewer.wait_frame(centre_is(MAGENTA), 20)
    finally:
        await stop(cp, agent, viewer)


async def _guarded(cp: FakeControlPlane, n: int) -> bool:
    return int((await cp.heartbeat())["guarded_targets"]) >= n
