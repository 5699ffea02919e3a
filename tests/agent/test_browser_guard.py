# ruff: noqa: ASYNC109
"""The room browser against its own holder and its own page (issue 19): every entry of the key
policy is dropped on both input paths, a closed window is reopened, blocked schemes never stay
on screen, the managed policy applies to a launched browser without touching /etc, and a page's
huge title and URL reach the control plane cut to size."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets
from roomagent.cdp import TITLE_MAX_CHARS, URL_MAX_CHARS
from roomagent.input.keypolicy import RULES, Rule

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, Viewer
from tests.support.frames import is_colour, pixel

pytestmark = pytest.mark.x11

GREEN, MAGENTA = (0, 255, 0), (255, 0, 255)
ETC_CHROMIUM = Path("/etc/chromium")


def centre(frame: Any) -> tuple[int, int, int]:
    """The colour in the middle of the picture (whatever rung the viewer gets)."""
    return pixel(frame, frame.width // 2, frame.height // 2)


def etc_snapshot() -> list[tuple[str, bytes]]:
    """Everything under /etc/chromium (the machine's own Chromium configuration)."""
    if not ETC_CHROMIUM.exists():
        return []
    return sorted(
        (str(p), p.read_bytes() if p.is_file() else b"<dir>") for p in ETC_CHROMIUM.rglob("*")
    )


async def start(log_dir: Path, page: str, **kw: Any) -> tuple[FakeControlPlane, AgentProcess]:
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, start_url=cp.page_url(page), **kw)
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", timeout=60)
    except TimeoutError:
        await agent.stop()
        await cp.stop()
        raise AssertionError("agent never became ready:\n" + agent.log_tail()) from None
    return cp, agent


async def targets(port: int) -> list[dict[str, Any]]:
    def get() -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            return json.loads(r.read())

    # Chromium's own UI (the omnibox popup, chrome://*.top-chrome/) is listed as pages too.
    return [t for t in await asyncio.to_thread(get) if ".top-chrome/" not in t["url"]]


async def browser_call(port: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One command on a browser-level DevTools connection of the test's own."""

    def version() -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=5) as r:
            return json.loads(r.read())

    url = (await asyncio.to_thread(version))["webSocketDebuggerUrl"]
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("id") == 1:
                return dict(msg)


async def page_call(port: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One command on the room's page, over a connection of the test's own."""
    pages = [t for t in await targets(port) if t["type"] == "page"]
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=2**24) as ws:
        await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("id") == 1:
                return dict(msg)


async def until(cond: Any, timeout: float = 10.0, what: Any = lambda: "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = await cond()
            if value:
                return value
        assert loop.time() < deadline, f"condition not met in time ({what()})"
        await asyncio.sleep(0.1)


# DOM names of the keys the rules name by X keysym.
DOM_KEYS = {
    "Escape": ("Escape", "Escape"),
    "Delete": ("Delete", "Delete"),
    "Menu": ("ContextMenu", "ContextMenu"),
    "Prior": ("PageUp", "PageUp"),
    "Next": ("PageDown", "PageDown"),
    "Tab": ("Tab", "Tab"),
    "Home": ("Home", "Home"),
}


def dom_combo(rule: Rule) -> tuple[str, str, set[str]]:
    """The rule's shortcut as a viewer's browser reports it (key, code, modifiers)."""
    mods = set(rule.mods)
    name = rule.key
    if len(name) == 1 and name.isalpha():
        return (name.upper() if "shift" in mods else name), f"Key{name.upper()}", mods
    if len(name) == 1 and name.isdigit():
        return name, f"Digit{name}", mods
    if name.startswith("F") and name[1:].isdigit():
        return name, name, mods
    key, code = DOM_KEYS[name]
    return key, code, mods


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def keys_room(log_dir: Path) -> AsyncIterator[tuple[FakeControlPlane, AgentProcess, Viewer]]:
    cp, agent = await start(log_dir, "keys.html")
    viewer = Viewer(cp, "holder")
    await viewer.connect()
    await viewer.wait_channels()
    await cp.set_holder("holder")
    yield cp, agent, viewer
    await viewer.close()
    await agent.stop()
    await cp.stop()


async def pressed_then_sentinel(
    cp: FakeControlPlane, agent: AgentProcess, viewer: Viewer, rule: Rule, path: str
) -> list[str]:
    """Press the rule's shortcut, then a plain "q"; returns what the page saw until the "q"."""
    cdp = Cdp(agent.cdp_port)
    await until(lambda: cdp.evaluate("document.readyState === 'complete' && !!window.__keys"))
    await cdp.evaluate("window.__keys = []; document.getElementById('field').focus(); true")
    key, code, mods = dom_combo(rule)
    if path == "datachannel":
        viewer.tap(key, code, mods)
        viewer.tap("q", "KeyQ")
    else:
        await cp.send("browser.keypress", {"key": key, "code": code, "modifiers": sorted(mods)})
        await cp.send("browser.keypress", {"key": "q", "code": "KeyQ", "modifiers": []})
    seen: list[str] = await until(
        lambda: cdp.evaluate("window.__keys.includes('q') && window.__keys"),
        what=lambda: f"{rule.name}: the page never got the q after it\n{agent.log_tail()}",
    )
    return seen[: seen.index("q")]


@pytest.mark.parametrize("path", ["datachannel", "fallback"])
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
async def test_every_key_policy_entry_is_dropped(keys_room, rule: Rule, path: str) -> None:  # type: ignore[no-untyped-def]
    cp, agent, viewer = keys_room
    before = [(t["id"], t["type"]) for t in await targets(agent.cdp_port) if t["type"] == "page"]
    seen = await pressed_then_sentinel(cp, agent, viewer, rule, path)
    # The page was not given the shortcut (those Chromium lets the page see first)...
    assert seen == [], f"{rule.name} reached the page: {seen}"
    # ...and Chromium did nothing with it: the same one page target, on the same page.
    after = [(t["id"], t["type"]) for t in await targets(agent.cdp_port) if t["type"] == "page"]
    assert after == before, f"{rule.name} changed the browser's windows: {before} -> {after}"
    assert agent.proc is not None and agent.proc.returncode is None
    hb = await cp.heartbeat()
    assert hb["blocked_keys"].get(rule.name, 0) >= 1, hb["blocked_keys"]


async def test_allowed_shortcuts_still_reach_the_page(keys_room) -> None:  # type: ignore[no-untyped-def]
    _, agent, viewer = keys_room
    cdp = Cdp(agent.cdp_port)
    await cdp.evaluate("window.__keys = []; document.getElementById('field').focus(); true")
    for key, code, mods in (("a", "KeyA", {"ctrl"}), ("c", "KeyC", {"ctrl"}), ("F5", "F5", set())):
        if key == "F5":
            continue  # a reload would clear the log; F5 is only checked not to be in the table
        viewer.tap(key, code, mods)
    viewer.tap("q", "KeyQ")
    seen = await until(lambda: cdp.evaluate("window.__keys.includes('q') && window.__keys"))
    assert seen[: seen.index("q")] == ["ctrl+a", "ctrl+c"]


async def test_window_closed_by_the_page_or_the_browser_is_reopened(log_dir: Path) -> None:
    cp, agent = await start(log_dir, "hostile.html")
    viewer = Viewer(cp, "alice")
    try:
        await viewer.connect()
        await viewer.wait_frame(lambda f: is_colour(centre(f), MAGENTA), 20)
        first = [t["id"] for t in await targets(agent.cdp_port) if t["type"] == "page"]
        # The page closes its own window (a one-entry history: scripts may).
        await Cdp(agent.cdp_port).evaluate("window.close()")
        hb = await until(
            lambda: _reopened(cp, 1), 20, lambda: agent.log_tail()
        )  # the agent lives on
        assert hb["window_reopens"] >= 1
        pages = await until(
            lambda: _pages_other_than(agent.cdp_port, first), 10, lambda: agent.log_tail()
        )
        assert len(pages) == 1, [(p["type"], p["url"][:80]) for p in pages]
        # The reopened window is the room's page again, on screen and reported.
        await viewer.wait_frame(lambda f: is_colour(centre(f), MAGENTA), 20)
        await cp.wait_for(
            lambda m: m["type"] == "browser.status" and "hostile.html" in m["data"]["url"],
            past=True,
        )
        # A close that slips through the browser itself (as Ctrl+Shift+W would): reopened too.
        second = [p["id"] for p in pages]
        await browser_call(agent.cdp_port, "Target.closeTarget", {"targetId": second[0]})
        await until(lambda: _reopened(cp, 2), 20, lambda: agent.log_tail())
        await until(lambda: _pages_other_than(agent.cdp_port, second), 10)
        await viewer.wait_frame(lambda f: is_colour(centre(f), MAGENTA), 20)
        # Navigation still drives the (new) window.
        await cp.send("browser.navigate", {"url": cp.page_url("keys.html")})
        await viewer.wait_frame(lambda f: is_colour(centre(f), GREEN), 20)
        assert agent.proc is not None and agent.proc.returncode is None
    finally:
        await viewer.close()
        await agent.stop()
        await cp.stop()


async def _reopened(cp: FakeControlPlane, n: int) -> dict[str, Any] | None:
    hb = await cp.heartbeat()
    return hb if hb["window_reopens"] >= n else None


async def _pages_other_than(port: int, ids: list[str]) -> list[dict[str, Any]]:
    pages = [t for t in await targets(port) if t["type"] == "page"]
    return pages if pages and not any(p["id"] in ids for p in pages) else []


async def test_huge_title_and_url_reach_the_control_plane_cut(keys_room) -> None:  # type: ignore[no-untyped-def]
    cp, _, _ = keys_room
    await cp.send("browser.navigate", {"url": cp.page_url("hostile.html") + "?big"})
    msg = await cp.wait_for(
        lambda m: m["type"] == "browser.status" and m["data"]["title"].startswith("TTT"), 20
    )
    assert len(msg["data"]["title"]) == TITLE_MAX_CHARS
    msg = await cp.wait_for(
        lambda m: m["type"] == "browser.status" and "uuuu" in m["data"]["url"], 20, past=True
    )
    assert len(msg["data"]["url"]) == URL_MAX_CHARS
    # No frame the agent sent came near the agent channel's 64 KiB limit.
    assert max(len(json.dumps(m)) for m in cp.messages) < 16 * 1024
    await cp.send("browser.navigate", {"url": cp.page_url("keys.html")})


async def test_policy_and_guard_keep_blocked_schemes_off_screen(log_dir: Path, tmp_path: Path):
    etc_before = etc_snapshot()
    secret = tmp_path / "secrets.json"
    secret.write_text('{"SECRET_KEY": "do-not-show-0123456789"}')
    cp, agent = await start(log_dir, "keys.html")
    try:
        hb = await cp.heartbeat()
        assert hb["browser_policy"] in ("namespace", "installed"), hb["browser_policy"]
        # Layer 1, the managed policy: Chromium itself refuses the navigation.
        for url in (
            f"file://{secret}",
            "chrome://settings",
            "view-source:" + cp.page_url("keys.html"),
            "devtools://devtools/bundled/inspector.html",
        ):
            res = await page_call(agent.cdp_port, "Page.navigate", {"url": url})
            assert res["result"].get("errorText") == "net::ERR_BLOCKED_BY_ADMINISTRATOR", (
                url,
                res,
            )
            # Layer 2, the agent's guard: the room's page does not stay there.
            await until(
                lambda: _page_url_is_not_blocked(agent.cdp_port),
                10,
                lambda u=url: f"{u} stayed",  # type: ignore[misc]
            )
            (text,) = await until(lambda: _page_text(agent.cdp_port), 10)
            assert "do-not-show" not in text
        hb = await cp.heartbeat()
        assert hb["guarded_targets"] >= 4
        # A window on a blocked scheme opened beside the room's is closed by the guard.
        await browser_call(agent.cdp_port, "Target.createTarget", {"url": "chrome://version"})
        await until(lambda: _only_room_page(agent.cdp_port), 10)
    finally:
        await agent.stop()
        await cp.stop()
    # The machine's own Chromium policy was never touched.
    assert etc_snapshot() == etc_before
    assert not (ETC_CHROMIUM / "policies").exists() or etc_before


async def _page_text(port: int) -> list[str]:
    """The room page's text (in a list: an empty page is an answer too). Raises while the page
    is between documents (the guard may be sending it back), which `until` retries."""
    res = await page_call(
        port,
        "Runtime.evaluate",
        {"expression": "document.body ? document.body.innerText : ''", "returnByValue": True},
    )
    return [str(res["result"]["result"].get("value") or "")]


async def _page_url_is_not_blocked(port: int) -> bool:
    pages = [t for t in await targets(port) if t["type"] == "page"]
    return bool(pages) and not any(
        p["url"].startswith(("file:", "chrome:", "view-source:", "devtools:")) for p in pages
    )


async def _only_room_page(port: int) -> bool:
    pages = [t for t in await targets(port) if t["type"] == "page"]
    return len(pages) == 1 and not pages[0]["url"].startswith("chrome:")


async def test_without_the_policy_the_room_says_so_and_the_guard_still_holds(
    log_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets.json"
    secret.write_text('{"SECRET_KEY": "do-not-show-0123456789"}')
    cp, agent = await start(
        log_dir, "keys.html", extra_env={"WP_POLICY_FILE": str(tmp_path / "missing.json")}
    )
    try:
        err = await cp.wait_for(
            lambda m: m["type"] == "error" and m["data"]["code"] == "browser_policy_unavailable",
            past=True,
        )
        assert "unavailable" in err["data"]["message"]
        hb = await cp.heartbeat()
        assert hb["browser_policy"].startswith("unavailable")
        await page_call(agent.cdp_port, "Page.navigate", {"url": f"file://{secret}"})
        await until(lambda: _page_url_is_not_blocked(agent.cdp_port), 10)
        assert (await cp.heartbeat())["guarded_targets"] >= 1
    finally:
        await agent.stop()
        await cp.stop()
