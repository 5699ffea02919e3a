# ruff: noqa: ASYNC109
"""Clipboard and files (issue 22) against a real room browser (agent + Xvfb + Chromium): the
holder's paste lands in the page's focused input, what the holder copies there comes back to
them (a copy nobody asked for does not), the page's file chooser is put to the holder and their
file handed to the page, Cancel, and a download refused without landing on disk. The control
plane is the agent tests' stand-in (tests/support/agent.py): input goes as the JSON fallback,
which the hub forwards for the holder only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, start_agent

pytestmark = pytest.mark.x11

CLIP_MAX = 1000
FILE_MAX = 200_000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clip_room(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[FakeControlPlane, AgentProcess, Path]]:
    """An agent whose every directory (profile, HOME, the files it is handed) is under one temp
    dir of this test's, with small caps."""
    root = tmp_path_factory.mktemp("clip-room")
    cp, agent = await start_agent(
        root,
        "h264",
        extra_env={
            "WP_PROFILE_DIR": str(root),
            "WP_CLIPBOARD_MAX_BYTES": str(CLIP_MAX),
            "WP_FILE_MAX_BYTES": str(FILE_MAX),
        },
    )
    yield cp, agent, root
    await agent.stop()
    await cp.stop()


async def until(cond: Any, timeout: float = 10.0, what: Any = lambda: "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await cond()
        if value:
            return value
        assert loop.time() < deadline, f"condition not met in time ({what()})"
        await asyncio.sleep(0.05)


async def open_page(cp: FakeControlPlane, cdp: Cdp, holder: str | None = "alice") -> None:
    await cp.set_holder(holder)
    tag = f"?t={len(cp.messages)}"
    await cp.send("browser.navigate", {"url": cp.page_url("clipfiles.html") + tag})

    async def loaded() -> bool:
        with contextlib.suppress(Exception):
            return bool(
                await cdp.evaluate(
                    f"document.readyState === 'complete' && location.search === '{tag}'"
                    " && !!window.layout"
                )
            )
        return False

    await until(loaded, 20)


async def click(cp: FakeControlPlane, cdp: Cdp, selector: str) -> None:
    """A holder's click (the hub forwards `browser.click` for the holder only)."""
    box = await cdp.evaluate(f"layout({selector!r})")
    await cp.send("browser.click", {"x": box["x"], "y": box["y"], "button": "left"})


async def key(cp: FakeControlPlane, k: str, code: str, *mods: str) -> None:
    await cp.send("browser.keypress", {"key": k, "code": code, "modifiers": list(mods)})


async def focus_field(cp: FakeControlPlane, cdp: Cdp, selector: str = "#field") -> None:
    await click(cp, cdp, selector)
    want = selector.lstrip("#")
    await until(lambda: cdp.evaluate(f"document.activeElement.id === {want!r}"))


async def test_the_holders_paste_lands_in_the_focused_input_and_no_one_elses(clip_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent, _ = clip_room
    cdp = Cdp(agent.cdp_port)
    await open_page(cp, cdp)
    await focus_field(cp, cdp)
    # bob does not hold the remote: his paste is dropped; alice's lands, in one input event
    await cp.send("clipboard.paste", {"text": "from bob", "by": "bob"})
    await cp.send("clipboard.paste", {"text": "Grüße 👋 https://example.com/x", "by": "alice"})
    value = await until(lambda: cdp.evaluate("document.getElementById('field').value || null"), 15)
    assert value == "Grüße 👋 https://example.com/x"
    assert "input" in await cdp.evaluate("window.events")
    hb = await cp.heartbeat()
    assert hb["clipboard_pastes"] >= 1 and hb["clipfiles_dropped"] >= 1, hb
    # a multi-line paste into a textarea keeps its lines
    await focus_field(cp, cdp, "#area")
    await cp.send("clipboard.paste", {"text": "line one\nline two", "by": "alice"})
    assert await until(lambda: cdp.evaluate("document.getElementById('area').value || null"))
    assert await cdp.evaluate("document.getElementById('area').value") == "line one\nline two"


async def test_what_the_holder_copies_comes_back_and_a_pages_own_copy_does_not(clip_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent, _ = clip_room
    cdp = Cdp(agent.cdp_port)
    # Nobody holds the remote: the page writes the clipboard (its "Copy link" button, clicked
    # through the control channel, which the hub would not even forward); nothing goes back.
    await open_page(cp, cdp, holder=None)
    start = len(cp.messages)
    await click(cp, cdp, "#copy")
    await until(lambda: cdp.evaluate("window.events.includes('copied')"))
    await asyncio.sleep(1)  # the watcher has read it (while nobody held the remote)
    # alice takes the remote, selects the field's text and presses Ctrl+C in the stream
    await cp.set_holder("alice")
    await focus_field(cp, cdp)
    await cp.send("clipboard.paste", {"text": "copy this ✂ text", "by": "alice"})
    await until(lambda: cdp.evaluate("document.getElementById('field').value.length > 0"))
    copied = asyncio.ensure_future(cp.wait_type("clipboard.copied", 15))
    await key(cp, "a", "KeyA", "ctrl")
    await key(cp, "c", "KeyC", "ctrl")
    msg = await copied
    assert msg["data"] == {"text": "copy this ✂ text", "size": 18, "holder_id": "alice"}
    # the first copy that went back is this one: the page's own, made before, did not
    assert [m for m in cp.messages[start:] if m["type"] == "clipboard.copied"] == [msg]

    # the page's own "Copy link" button, clicked by the holder, comes back too
    copied = asyncio.ensure_future(cp.wait_type("clipboard.copied", 15))
    await click(cp, cdp, "#copy")
    msg = await copied
    assert msg["data"]["text"] == "https://example.com/watch?v=wp-123"

    # a copy over the cap is refused whole: its size alone goes back
    big = "é" * 600  # 1200 bytes of UTF-8 > CLIP_MAX
    await focus_field(cp, cdp)
    await cp.send("clipboard.paste", {"text": big, "by": "alice"})
    await until(lambda: cdp.evaluate("document.getElementById('field').value.length > 600"))
    copied = asyncio.ensure_future(cp.wait_type("clipboard.copied", 15))
    await key(cp, "a", "KeyA", "ctrl")
    await key(cp, "c", "KeyC", "ctrl")
    msg = await copied
    assert msg["data"]["text"] == "" and msg["data"]["size"] > CLIP_MAX


async def _chooser(cp: FakeControlPlane, cdp: Cdp) -> dict[str, Any]:
    opened = asyncio.ensure_future(cp.wait_type("file.chooser", 15))
    await click(cp, cdp, "#file")
    return dict((await opened)["data"])


async def _status(cp: FakeControlPlane, pred: Any, timeout: float = 15) -> dict[str, Any]:
    msg = await cp.wait_for(lambda m: m["type"] == "file.status" and pred(m["data"]), timeout)
    return dict(msg["data"])


async def test_the_pages_file_chooser_takes_the_holders_file(clip_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent, root = clip_room
    cdp = Cdp(agent.cdp_port)
    await open_page(cp, cdp)
    chooser = await _chooser(cp, cdp)
    assert chooser["holder_id"] == "alice" and chooser["multiple"] is False
    assert chooser["accept"] == ".txt,text/plain"
    id_ = chooser["id"]
    body = ("Subtitles line ✓\n" * 4000).encode()  # ~72 KB: two chunks
    files = [{"name": "../../etc/notes.txt", "size": len(body), "type": "text/plain"}]

    # bob does not hold the remote: his upload gets nowhere (and no status)
    await cp.send("file.upload", {"id": id_, "files": files, "by": "bob"})
    # alice's: two chunks, each acknowledged, then the page has the file
    await cp.send("file.upload", {"id": id_, "files": files, "by": "alice"})
    half = 40_960
    for offset in (0, half):
        b64 = base64.b64encode(body[offset : offset + half]).decode()
        await cp.send(
            "file.chunk", {"id": id_, "index": 0, "offset": offset, "b64": b64, "by": "alice"}
        )
    done = await _status(cp, lambda d: d["state"] == "done")
    assert done == {"id": id_, "to": "alice", "state": "done", "received": len(body), "detail": ""}
    text = await until(lambda: cdp.evaluate("window.fileText"))
    assert text == body.decode()
    assert await cdp.evaluate("window.fileName") == "notes.txt"
    assert not [m for m in cp.messages if m["type"] == "file.status" and m["data"]["to"] == "bob"]
    # written under the room's temp dir, by its plain name
    assert [p.read_bytes() == body for p in root.rglob("notes.txt")] == [True]

    # too large for the agent's cap: refused, the page keeps its file
    chooser = await _chooser(cp, cdp)
    big = [{"name": "big.txt", "size": FILE_MAX + 1}]
    await cp.send("file.upload", {"id": chooser["id"], "files": big, "by": "alice"})
    failed = await _status(cp, lambda d: d["id"] == chooser["id"])
    assert failed["state"] == "failed" and "limited" in failed["detail"]

    # Cancel: the chooser is dropped, what comes later for it is refused
    chooser = await _chooser(cp, cdp)
    await cp.send("file.cancel", {"id": chooser["id"], "by": "alice"})
    assert (await _status(cp, lambda d: d["id"] == chooser["id"]))["state"] == "cancelled"
    await cp.send("file.upload", {"id": chooser["id"], "files": files, "by": "alice"})
    late = await _status(cp, lambda d: d["id"] == chooser["id"] and d["state"] == "failed")
    assert "no longer open" in late["detail"]
    assert await cdp.evaluate("window.fileName") == "notes.txt"

    # a chooser put to alice is dropped when the remote changes hands
    chooser = await _chooser(cp, cdp)
    await cp.set_holder("bob")
    await cp.send("file.upload", {"id": chooser["id"], "files": files, "by": "bob"})
    late = await _status(cp, lambda d: d["id"] == chooser["id"])
    assert late["state"] == "failed" and late["to"] == "bob"


async def test_a_download_is_refused_and_lands_nowhere(clip_room) -> None:  # type: ignore[no-untyped-def]
    cp, agent, root = clip_room
    cdp = Cdp(agent.cdp_port)
    await open_page(cp, cdp)
    refused = asyncio.ensure_future(cp.wait_type("download.refused", 15))
    await click(cp, cdp, "#download")
    msg = await refused
    assert msg["data"]["filename"] == "wp-secret-download.txt"
    assert msg["data"]["holder_id"] == "alice"
    # the browser had all the time it needed: nothing by that name anywhere it writes
    await asyncio.sleep(2)
    assert not list(root.rglob("wp-secret-download*"))
    assert not list(Path.home().joinpath("Downloads").glob("wp-secret-download*"))
