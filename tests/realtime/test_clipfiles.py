"""Clipboard and files (issue 22) at the hub, on both backends, through a live server, the room
socket and a stand-in agent: only the remote's holder pastes, sends files or cancels (checked on
the server, not only hidden in the page), sizes are refused with a clear error, what the agent
forwards names its sender, and the agent's reports reach the holder they name alone, and only
while that user still holds the remote."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.rooms import (
    Live,
    Socket,
    agent_socket,
    live_server,
    room_socket,
    room_with_guests,
)


@pytest.fixture
async def live(settings_factory: Any) -> AsyncIterator[Live]:
    settings = await settings_factory(
        ROOM_PRESENCE_GRACE_SECONDS=0.2, ROOM_CLIPBOARD_MAX_BYTES=100, ROOM_FILE_MAX_BYTES=50_000
    )
    async with live_server(settings) as server:
        yield server


async def _nothing_more(sock: Socket, type_: str) -> None:
    """`sock` got no `type_` so far: checked after a ping's answer, which the server sends after
    everything it had for this socket."""
    await sock.send("ping")
    await sock.expect("pong")
    assert not sock.of_type(type_), sock.of_type(type_)


async def test_only_the_holder_pastes_and_sends_files_sizes_refused(live: Live) -> None:
    room, host, (guest,) = await room_with_guests(live, 1)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    chunk = {"id": "c1", "index": 0, "offset": 0, "b64": base64.b64encode(b"hello").decode()}
    upload = {"id": "c1", "files": [{"name": "a.txt", "size": 5}]}

    # the guest does not hold the remote (the host drives first): refused, on the server
    for type_, data in [
        ("clipboard.paste", {"text": "hi"}),
        ("file.upload", upload),
        ("file.chunk", chunk),
        ("file.cancel", {"id": "c1"}),
    ]:
        await g.send(type_, data)
        await g.expect("error", code="not_holder", type=type_)

    # the holder: forwarded to the agent, naming who sent it
    await h.send("clipboard.paste", {"text": "Grüße 👋"})
    msg = await agent.expect("clipboard.paste")
    assert msg["data"] == {"text": "Grüße 👋", "by": host.id}
    await h.send("file.upload", upload)
    assert (await agent.expect("file.upload"))["data"] == {
        "id": "c1",
        "files": [{"name": "a.txt", "size": 5, "type": ""}],
        "by": host.id,
    }
    await h.send("file.chunk", chunk)
    assert (await agent.expect("file.chunk"))["data"] == {**chunk, "by": host.id}
    await h.send("file.cancel", {"id": "c1"})
    assert (await agent.expect("file.cancel"))["data"] == {"id": "c1", "by": host.id}

    # sizes: over ROOM_CLIPBOARD_MAX_BYTES (UTF-8 bytes, 100), over ROOM_FILE_MAX_BYTES (50 000)
    await h.send("clipboard.paste", {"text": "é" * 51})
    err = await h.expect("error", code="clipboard_too_large", type="clipboard.paste")
    assert "100 bytes" in err["data"]["detail"] and "102" in err["data"]["detail"]
    await h.send("file.upload", {"id": "c2", "files": [{"name": "a", "size": 30_000}] * 2})
    err = await h.expect("error", code="file_too_large", type="file.upload")
    assert "limited" in err["data"]["detail"]
    await h.send("file.chunk", {**chunk, "offset": 49_999})
    await h.expect("error", code="file_too_large", type="file.chunk")
    # not base64, a path for an id, too many files: the frame is invalid (not understood, so the
    # error names no type)
    for type_, data in [
        ("file.chunk", {**chunk, "b64": "not base64!"}),
        ("file.upload", {"id": "../x", "files": [{"name": "a", "size": 1}]}),
        ("file.upload", {"id": "c3", "files": [{"name": "a", "size": 1}] * 11}),
    ]:
        await h.send(type_, data)
        await h.expect("error", code="invalid")
    await _nothing_more(h, "clipboard.copied")
    assert [m["type"] for m in agent.received if m["type"].startswith(("clipboard.", "file."))] == [
        "clipboard.paste",
        "file.upload",
        "file.chunk",
        "file.cancel",
    ]


async def test_agent_reports_reach_the_holder_they_name_alone(live: Live) -> None:
    room, host, (guest,) = await room_with_guests(live, 1)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])

    await agent.send("clipboard.copied", {"text": "copied!", "size": 7, "holder_id": host.id})
    msg = await h.expect("clipboard.copied")
    assert msg["data"] == {"text": "copied!", "size": 7, "max_bytes": 100}
    # over the room's cap: the size alone
    await agent.send("clipboard.copied", {"text": "x" * 150, "size": 150, "holder_id": host.id})
    assert (await h.expect("clipboard.copied"))["data"] == {
        "text": "",
        "size": 150,
        "max_bytes": 100,
    }
    chooser = {"id": "f00d", "multiple": True, "accept": "image/*", "holder_id": host.id}
    await agent.send("file.chooser", chooser)
    assert (await h.expect("file.chooser"))["data"] == {
        "id": "f00d",
        "multiple": True,
        "accept": "image/*",
        "max_bytes": 50_000,
    }
    await agent.send(
        "download.refused", {"filename": "a.pdf", "url": "https://x/a.pdf", "holder_id": host.id}
    )
    assert (await h.expect("download.refused"))["data"] == {
        "filename": "a.pdf",
        "url": "https://x/a.pdf",
    }
    for type_ in ("clipboard.copied", "file.chooser", "download.refused"):
        await _nothing_more(g, type_)

    # the remote goes to the guest: a report naming the host (made before) reaches nobody
    await h.send("remote.pass", {"user_id": guest.id})
    await g.expect("remote.changed", holder_id=guest.id)
    await agent.send("file.chooser", chooser)
    await agent.send("clipboard.copied", {"text": "late", "size": 4, "holder_id": host.id})
    await agent.send("clipboard.copied", {"text": "now", "size": 3, "holder_id": guest.id})
    assert (await g.expect("clipboard.copied"))["data"]["text"] == "now"
    assert [m["data"]["text"] for m in g.of_type("clipboard.copied")] == ["now"]
    await _nothing_more(h, "no such type")
    assert [m["data"]["text"] for m in h.of_type("clipboard.copied")] == ["copied!", ""]
    assert len(h.of_type("file.chooser")) == 1

    # an upload's status goes to whoever the agent names (their own upload)
    await agent.send(
        "file.status",
        {
            "id": "f00d",
            "to": host.id,
            "state": "failed",
            "received": 0,
            "detail": "The remote changed hands",
        },
    )
    assert (await h.expect("file.status"))["data"] == {
        "id": "f00d",
        "state": "failed",
        "received": 0,
        "detail": "The remote changed hands",
    }
    await _nothing_more(g, "file.status")
