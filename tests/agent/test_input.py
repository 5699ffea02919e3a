# ruff: noqa: ASYNC109
"""Remote input: holder-only clicks, typing, shortcuts, release on holder change, cursor, nav."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from roomagent.input import wire

from tests.support.agent import Cdp, Viewer
from tests.support.frames import is_colour, pixel

pytestmark = pytest.mark.x11

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
PANEL = (1050, 530)  # centre of #panel in stream pixels


async def fresh_page(cp: Any, cdp: Cdp) -> None:
    await cp.send("browser.navigate", {"url": cp.page_url("anim.html") + "?fresh"})
    for _ in range(100):
        with contextlib.suppress(Exception):
            if await cdp.evaluate("document.readyState === 'complete' && !!window.layout"):
                if await cdp.evaluate("location.search") == "?fresh":
                    return
        await asyncio.sleep(0.05)
    raise AssertionError("page did not load")


async def until(cond: Any, timeout: float = 5.0, what: Any = lambda: "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await cond()
        if value:
            return
        assert loop.time() < deadline, f"condition not met in time ({what()})"
        await asyncio.sleep(0.05)


async def test_holder_click_changes_every_viewer_non_holder_ignored(h264_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent = h264_room
    cdp = Cdp(agent.cdp_port)
    await fresh_page(cp, cdp)
    alice, bob, carol = (Viewer(cp, u) for u in ("alice", "bob", "carol"))
    viewers = [alice, bob, carol]
    await asyncio.gather(*(v.connect() for v in viewers))
    try:
        await asyncio.gather(*(v.wait_channels() for v in viewers))
        await cp.set_holder("alice")
        for v in viewers:
            await v.wait_frame(lambda f: is_colour(pixel(f, *PANEL), BLUE), 5)
        hb0 = await cp.heartbeat()

        # bob is not the holder: his click on "Go green" must change nothing
        other = await cdp.evaluate("layout('#other')")
        bob.click(other["x"], other["y"])

        async def bob_dropped() -> bool:
            return bool((await cp.heartbeat())["dropped_input"] >= hb0["dropped_input"] + 2)

        # wait until the agent has seen (and dropped) both events, however busy the machine is
        await until(bob_dropped, timeout=30)
        assert await cdp.evaluate("window.clicks") == []
        assert all(is_colour(pixel(v.latest, *PANEL), BLUE) for v in viewers)  # type: ignore[arg-type]
        # dropped input does not speed up capture (only the holder's input boosts it)
        hb1 = await cp.heartbeat()
        assert hb1["boosted_frames"] == hb0["boosted_frames"]

        # alice holds the remote: her click on "Go red" lands, everybody sees red
        go = await cdp.evaluate("layout('#go')")
        alice.click(go["x"], go["y"])
        await asyncio.gather(
            *(v.wait_frame(lambda f: is_colour(pixel(f, *PANEL), RED), 15) for v in viewers)
        )
        assert await cdp.evaluate("window.clicks") == ["go"]

        # the holder's click boosted the capture rate for a moment (3 viewers: boost allowed)
        async def boosted() -> bool:
            return bool((await cp.heartbeat())["boosted_frames"] > hb1["boosted_frames"])

        await until(boosted, timeout=10)

        # input fallback over the control channel (browser.click) also works
        await cp.send("browser.click", {"x": other["x"], "y": other["y"], "button": "left"})
        await alice.wait_frame(lambda f: is_colour(pixel(f, *PANEL), GREEN), 15)

        # ping/pong on the input channel (RTT), answered for anyone
        bob.send_input(wire.ping((7).to_bytes(4, "little")))
        await until(lambda: asyncio.sleep(0, 7 in bob.pongs))

        # the cursor is reported to every viewer, shape included
        alice.send_pointer(wire.move(0.25, 0.5))
        await until(
            lambda: asyncio.sleep(
                0, any(abs(x - 0.25) < 0.01 and abs(y - 0.5) < 0.01 for x, y in carol.cursor_pos)
            )
        )
        assert carol.cursor_shapes and carol.cursor_shapes[-1][0] > 0
    finally:
        await asyncio.gather(*(v.close() for v in viewers))


async def test_typing_shortcuts_text_and_release_on_holder_change(h264_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent = h264_room
    cdp = Cdp(agent.cdp_port)
    await fresh_page(cp, cdp)
    alice = Viewer(cp, "alice")
    await alice.connect()
    try:
        await alice.wait_channels()
        await cp.set_holder("alice")
        field = await cdp.evaluate("layout('#field')")
        alice.click(field["x"], field["y"])
        await until(lambda: cdp.evaluate("document.activeElement.id === 'field'"))

        def type_word(word: str) -> None:
            for ch in word:
                if ch.isupper():
                    alice.key("Shift", "ShiftLeft", {"shift"})
                    alice.tap(ch, f"Key{ch}", {"shift"})
                    alice.key("Shift", "ShiftLeft", set(), down=False)
                elif ch == "!":
                    alice.key("Shift", "ShiftLeft", {"shift"})
                    alice.tap("!", "Digit1", {"shift"})
                    alice.key("Shift", "ShiftLeft", set(), down=False)
                elif ch == " ":
                    alice.tap(" ", "Space")
                elif ch == ",":
                    alice.tap(",", "Comma")
                else:
                    alice.tap(ch, f"Key{ch.upper()}")

        type_word("junk")
        alice.tap("a", "KeyA", {"ctrl"})  # Ctrl+A selects all, typing replaces it
        type_word("Hello, World!")
        await until(
            lambda: cdp.evaluate("document.getElementById('field').value === 'Hello, World!'")
        )
        # With Caps Lock on a browser reports Ctrl+A as key "A" (no Shift): still select all
        alice.tap("A", "KeyA", {"ctrl"})
        type_word("Hello, World!")
        await until(
            lambda: cdp.evaluate("document.getElementById('field').value === 'Hello, World!'"),
            what=lambda: "Caps Lock Ctrl+A did not select all",
        )
        alice.tap("Backspace", "Backspace")
        alice.tap("ArrowLeft", "ArrowLeft")
        alice.tap("Home", "Home")
        alice.send_input(wire.text("é中 "))
        await until(
            lambda: cdp.evaluate("document.getElementById('field').value === 'é中 Hello, World'")
        )

        # a held key is released when the remote changes hands
        alice.key("Shift", "ShiftLeft", {"shift"})
        alice.key("Q", "KeyQ", {"shift"})
        await until(
            lambda: cdp.evaluate("Object.keys(window.held).length === 2"),
            what=lambda: "held keys did not register",
        )
        await cp.set_holder("bob")
        await until(lambda: cdp.evaluate("Object.keys(window.held).length === 0"))
        log = await cdp.evaluate("window.keylog.slice(-2)")
        assert sorted(log) == ["u:Q", "u:Shift"] or sorted(log) == ["u:Shift", "u:q"], log
        # and alice is no longer obeyed
        alice.tap("z", "KeyZ")
        await asyncio.sleep(0.5)
        assert "z" not in await cdp.evaluate("document.getElementById('field').value")
    finally:
        await alice.close()


async def test_navigation_commands_and_click_navigation_status(h264_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent = h264_room
    cdp = Cdp(agent.cdp_port)
    await fresh_page(cp, cdp)
    page2 = cp.page_url("page2.html")

    def status(**want: Any) -> Any:
        return lambda m: (
            m["type"] == "browser.status" and all(m["data"].get(k) == v for k, v in want.items())
        )

    await cp.send("browser.navigate", {"url": page2})
    s = await cp.wait_for(status(url=page2, title="Page Two", loading=False), 10)
    assert s["data"]["can_go_back"] is True and s["data"]["can_go_forward"] is False
    await cp.send("browser.back", {})
    s = await cp.wait_for(status(title="Anim", can_go_forward=True), 10)
    await until(lambda: cdp.evaluate("document.readyState === 'complete' && !!window.layout"))
    await cdp.evaluate("window.marker = 1")
    await cp.send("browser.reload", {})
    await until(lambda: cdp.evaluate("window.marker === undefined"), 10)
    await cp.wait_for(status(title="Anim", loading=False), 10, past=True)
    await until(lambda: cdp.evaluate("document.readyState === 'complete' && !!window.layout"))

    # a navigation the holder makes by clicking a link is reported too
    viewer = Viewer(cp, "alice")
    await viewer.connect()
    try:
        await viewer.wait_channels()
        await cp.set_holder("alice")
        link = await cdp.evaluate("layout('#link')")
        viewer.click(link["x"], link["y"])
        s = await cp.wait_for(status(url=page2, title="Page Two"), 10)
        assert s["data"]["can_go_forward"] is False
        await cp.send("browser.back", {})
        await cp.wait_for(status(title="Anim", can_go_forward=True), 10)
    finally:
        await viewer.close()
