"""Watching together (issue 21) on both backends, through a live server, the room socket, the
REST API and a stand-in agent: media commands and who may give them, the media state, system
lines, reactions, pointing, the queue (kept across a control-plane restart) and its advance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.rooms import (
    Live,
    Socket,
    agent_socket,
    create_room,
    live_server,
    room_socket,
    room_with_guests,
)
from tests.support.users import signed_in

PLAYING = {
    "present": True,
    "paused": False,
    "time": 751.2,
    "duration": 5400.0,
    "rate": 1.0,
    "muted": False,
    "ended": False,
    "title": "The film",
}


def same_queue(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """The same entries (the REST API and the socket write a UTC time each its own way)."""

    def norm(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**e, "added_at": datetime.fromisoformat(e["added_at"])} for e in entries]

    return norm(a) == norm(b)


@pytest.fixture
async def live(settings_factory: Any) -> AsyncIterator[Live]:
    """A live server whose system lines gather a member's commands for 0.5 s (2 s by default)."""
    settings = await settings_factory(
        ROOM_PRESENCE_GRACE_SECONDS=0.2, ROOM_MEDIA_LINE_COALESCE_SECONDS=0.5
    )
    async with live_server(settings) as server:
        yield server


async def _agent_with_media(live: Live, code: str, *watchers: Socket) -> Socket:
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    await agent.send("media.state", PLAYING)
    for sock in watchers:
        assert (await sock.expect("media.state"))["data"] == PLAYING
    return agent


async def _settings(live: Live, code: str, headers: dict[str, str], **body: bool) -> Any:
    return await live.http.patch(f"/api/rooms/{code}/settings", json=body, headers=headers)


async def test_anyone_can_pause_until_the_host_turns_it_off(live: Live):
    room, host, (guest, other) = await room_with_guests(live, 2)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await _agent_with_media(live, code, h, g)
    # a guest who does not hold the remote pauses and seeks: the agent is told
    await g.send("media.cmd", {"action": "pause"})
    assert (await agent.expect("media.cmd"))["data"] == {"action": "pause", "conn": g.conn_id}
    await g.send("media.cmd", {"action": "seek", "value": 2402})
    cmd = (await agent.expect("media.cmd"))["data"]
    assert cmd == {"action": "seek", "value": 2402.0, "conn": g.conn_id}
    # the page's media went away before the agent got it: the agent's refusal reaches the
    # asker alone, as the server's own refusals read
    await agent.send(
        "media.refused",
        {"type": "media.cmd", "code": "no_media", "message": "gone", "conn": g.conn_id},
    )
    await g.expect("error", code="no_media", type="media.cmd", detail="gone")
    await h.send("ping")
    await h.expect("pong")
    assert not [e for e in h.of_type("error") if e["data"]["code"] == "no_media"]
    # invalid commands never reach it
    for bad in [
        {"action": "rate", "value": 5},
        {"action": "seek"},
        {"action": "seek", "value": -1},
        {"action": "stop"},
    ]:
        await g.send("media.cmd", bad)
        await g.expect("error", code="invalid")
    # only the host changes the settings
    resp = await _settings(live, code, guest.headers, anyone_can_pause=False)
    assert resp.status_code == 403 and resp.json()["code"] == "not_host"
    resp = await _settings(live, code, host.headers, anyone_can_pause=False)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "anyone_can_pause": False,
        "queue_host_only": False,
        "block_ads": True,
        "keep_profile": False,
        "profile_others_drive": False,
    }
    assert (await g.expect("room.settings"))["data"] == resp.json()
    detail = (await live.http.get(f"/api/rooms/{code}", headers=other.headers)).json()
    assert detail["settings"] == {
        "anyone_can_pause": False,
        "queue_host_only": False,
        "block_ads": True,
        "keep_profile": False,
        "profile_others_drive": False,
    }
    # now the guest is refused, on the server
    await g.send("media.cmd", {"action": "play"})
    await g.expect("error", code="not_allowed", type="media.cmd")
    # the host and the remote's holder still may
    await h.send("media.cmd", {"action": "play"})
    assert (await agent.expect("media.cmd"))["data"] == {"action": "play", "conn": h.conn_id}
    await h.send("remote.pass", {"user_id": guest.id})
    await g.expect("remote.changed", holder_id=guest.id)
    await g.send("media.cmd", {"action": "seek_by", "value": -10})
    cmd = (await agent.expect("media.cmd"))["data"]
    assert cmd == {"action": "seek_by", "value": -10.0, "conn": g.conn_id}
    o = await room_socket(live.ws_url, code, other.access_token)
    assert o.received[0]["data"]["settings"] == {
        "anyone_can_pause": False,
        "queue_host_only": False,
        "block_ads": True,
        "keep_profile": False,
        "profile_others_drive": False,
    }
    await o.send("media.cmd", {"action": "pause"})
    await o.expect("error", code="not_allowed")
    assert not agent.of_type("error")


async def test_no_media_no_commands_and_the_state_is_relayed_and_kept(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    g = await room_socket(live.ws_url, code, guest.access_token)
    assert g.received[0]["data"]["media"] is None
    await g.send("media.cmd", {"action": "pause"})
    await g.expect("error", code="agent_unavailable")
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    await g.send("media.cmd", {"action": "pause"})  # the agent has not reported any media yet
    await g.expect("error", code="no_media")
    # the page has none: relayed without the other fields, and commands are refused
    await agent.send("media.state", {"present": False, "paused": True, "time": 3})
    assert (await g.expect("media.state"))["data"] == {"present": False}
    await g.send("media.cmd", {"action": "play"})
    await g.expect("error", code="no_media")
    # what the page says is coerced and cut to size
    await asyncio.sleep(0.3)  # past the coalescing interval
    await agent.send(
        "media.state",
        {**PLAYING, "duration": None, "time": "nan", "title": "t" * 1000, "extra": "x"},
    )
    got = (await g.expect("media.state"))["data"]
    assert got == {**PLAYING, "duration": None, "time": 0.0, "title": "t" * 300}
    late = await room_socket(live.ws_url, code, host.access_token)
    assert late.received[0]["data"]["media"] == got
    assert not agent.of_type("media.cmd")


async def test_media_state_passes_the_agent_flood_guard_at_its_rate(live: Live):
    """The agent sends `media.state` up to 5 times a second besides its other reports: none is
    refused, the room gets them coalesced, and the last one always arrives."""
    room, _host, (guest,) = await room_with_guests(live)
    code = room["code"]
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    sent = []
    for i in range(15):  # 3 s at 5 a second
        state = {**PLAYING, "time": 100.0 + i * 0.2}
        sent.append(state)
        await agent.send("media.state", state)
        await agent.send("heartbeat", {})
        await asyncio.sleep(0.2)
    last = await g.expect("media.state", time=sent[-1]["time"])
    assert last["data"] == sent[-1]
    relayed = g.of_type("media.state")
    assert 3 <= len(relayed) < len(sent), len(relayed)  # one per 0.25 s, the latest winning
    assert not agent.of_type("error")


async def test_commands_become_coalesced_system_lines_stored_like_chat(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await _agent_with_media(live, code, h, g)
    await g.send("media.cmd", {"action": "pause"})
    line = await h.expect("chat.message", kind="system")
    assert line["data"]["text"] == f"{guest.username} paused at 12:31"
    assert line["data"]["user"] == {"id": guest.id, "username": guest.username}
    # a burst of seeks within the window: one line, where it led
    for value in (10, 10, 10, -5):
        await g.send("media.cmd", {"action": "seek_by", "value": value})
    await h.send("media.cmd", {"action": "seek", "value": 2402})  # another member: its own line
    lines = [await h.expect("chat.message", kind="system") for _ in range(2)]
    texts = sorted(m["data"]["text"] for m in lines)
    assert texts == sorted(
        [f"{guest.username} skipped to 12:56", f"{host.username} skipped to 40:02"]
    )
    await asyncio.sleep(0.8)
    assert len(h.of_type("chat.message")) == 3
    assert len(agent.of_type("media.cmd")) == 6
    # stored: the history and a reload show them
    hist = (await live.http.get(f"/api/rooms/{code}/messages", headers=guest.headers)).json()
    assert [m["kind"] for m in hist["data"]] == ["system"] * 3
    late = await room_socket(live.ws_url, code, guest.access_token)
    chat = late.received[0]["data"]["chat"]
    assert chat[0]["text"] == f"{guest.username} paused at 12:31" and chat[0]["kind"] == "system"
    # a member's own chat says kind "user"
    await g.send("chat.send", {"text": "hi"})
    assert (await h.expect("chat.message", text="hi"))["data"]["kind"] == "user"


async def test_reactions_are_five_and_rate_limited(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    await g.send("reaction.send", {"emoji": "🍕"})
    await g.expect("error", code="bad_request", type="reaction.send")
    for emoji in ("👍", "😂", "😮", "❤"):  # ❤ without its variation selector is ❤️
        await g.send("reaction.send", {"emoji": emoji})
    got = [await h.expect("reaction") for _ in range(4)]
    assert [r["data"]["emoji"] for r in got] == ["👍", "😂", "😮", "❤️"]
    assert got[0]["data"]["user_id"] == guest.id and got[0]["data"]["username"] == guest.username
    assert len({r["data"]["id"] for r in got}) == 4
    await g.send("reaction.send", {"emoji": "👏"})  # the fifth in 3 s
    await h.expect("reaction", emoji="👏")
    await g.send("reaction.send", {"emoji": "👏"})  # the sixth
    await g.expect("error", code="rate_limited", type="reaction.send")
    # the host's budget is their own
    await h.send("reaction.send", {"emoji": "👍"})
    await g.expect("reaction", user_id=host.id)


async def test_pointer_is_relayed_coalesced_and_never_moves_the_mouse(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(30):
        await g.send("pointer.show", {"x": i / 30, "y": 0.5})
    last = await h.expect("pointer", x=29 / 30, within=5)
    took = loop.time() - started
    assert last["data"] == {
        "user_id": guest.id,
        "username": guest.username,
        "x": 29 / 30,
        "y": 0.5,
    }
    assert len(h.of_type("pointer")) <= took * 10 + 2  # at most 10 a second
    await g.send("pointer.show", {"x": 1.5, "y": 0})
    await g.expect("error", code="invalid")
    await asyncio.sleep(0.3)
    assert not [m for m in agent.received if m["type"] not in ("auth.ok",)]


async def test_the_queue_rights_cap_and_order(settings_factory: Any):
    settings = await settings_factory(ROOM_QUEUE_MAX=3)
    async with live_server(settings) as live:
        room, host, (guest, other) = await room_with_guests(live, 2)
        code = room["code"]
        h = await room_socket(live.ws_url, code, host.access_token)
        g = await room_socket(live.ws_url, code, guest.access_token)
        o = await room_socket(live.ws_url, code, other.access_token)
        await g.send("queue.add", {"url": "file:///etc/passwd"})
        await g.expect("error", code="url_not_allowed", type="queue.add")
        await g.send("queue.add", {"url": "https://example.com/a"})
        changed = (await h.expect("queue.changed"))["data"]["queue"]
        assert [(e["url"], e["added_by"]["id"], e["title"]) for e in changed] == [
            ("https://example.com/a", guest.id, None)
        ]
        a = changed[0]["id"]
        await g.expect("queue.changed")
        await o.send("queue.add", {"url": "https://example.com/b"})
        await g.expect("queue.changed")
        await h.send("queue.add", {"url": "https://example.com/c"})
        queue = (await g.expect("queue.changed"))["data"]["queue"]
        assert [e["url"][-1] for e in queue] == ["a", "b", "c"]
        b, c = queue[1]["id"], queue[2]["id"]
        await g.send("queue.add", {"url": "https://example.com/d"})
        await g.expect("error", code="queue_full")
        # remove: the adder or the host; move: the host
        await g.send("queue.remove", {"id": b})
        await g.expect("error", code="not_allowed", type="queue.remove")
        await g.send("queue.move", {"id": c, "index": 0})
        await g.expect("error", code="not_allowed", type="queue.move")
        await h.send("queue.move", {"id": c, "index": 0})
        queue = (await g.expect("queue.changed"))["data"]["queue"]
        assert [e["id"] for e in queue] == [c, a, b]
        await h.send("queue.move", {"id": c, "index": 9})
        queue = (await g.expect("queue.changed"))["data"]["queue"]
        assert [e["id"] for e in queue] == [a, b, c]
        await g.send("queue.remove", {"id": a})
        await h.send("queue.remove", {"id": b})
        await g.expect("queue.changed")
        queue = (await g.expect("queue.changed"))["data"]["queue"]
        assert [e["id"] for e in queue] == [c]
        await g.send("queue.remove", {"id": a})
        await g.expect("error", code="not_in_queue")
        # the host restricts adding to host and holder
        resp = await _settings(live, code, host.headers, queue_host_only=True)
        assert resp.json() == {
            "anyone_can_pause": True,
            "queue_host_only": True,
            "block_ads": True,
            "keep_profile": False,
            "profile_others_drive": False,
        }
        await g.expect("room.settings", queue_host_only=True)
        await g.send("queue.add", {"url": "https://example.com/e"})
        await g.expect("error", code="not_allowed", type="queue.add")
        await h.send("remote.pass", {"user_id": guest.id})
        await g.expect("remote.changed", holder_id=guest.id)
        await g.send("queue.add", {"url": "https://example.com/e"})
        queue = (await g.expect("queue.changed"))["data"]["queue"]
        assert [e["url"][-1] for e in queue] == ["c", "e"]
        detail = (await live.http.get(f"/api/rooms/{code}", headers=other.headers)).json()
        assert same_queue(detail["queue"], queue)
        assert detail["settings"] == {
            "anyone_can_pause": True,
            "queue_host_only": True,
            "block_ads": True,
            "keep_profile": False,
            "profile_others_drive": False,
        }


async def test_the_queue_and_settings_survive_a_control_plane_restart(settings_factory: Any):
    settings = await settings_factory()
    async with live_server(settings) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        code = room["code"]
        h = await room_socket(live.ws_url, code, host.access_token)
        for name in ("a", "b"):
            await h.send("queue.add", {"url": f"https://example.com/{name}"})
            await h.expect("queue.changed")
        resp = await _settings(live, code, host.headers, anyone_can_pause=False)
        assert resp.status_code == 200
        before = (await live.http.get(f"/api/rooms/{code}", headers=host.headers)).json()
        await h.close()
    assert [e["url"] for e in before["queue"]] == ["https://example.com/a", "https://example.com/b"]
    async with live_server(settings) as again:
        after = (await again.http.get(f"/api/rooms/{code}", headers=host.headers)).json()
        assert after["queue"] == before["queue"]
        assert after["settings"] == {
            "anyone_can_pause": False,
            "queue_host_only": False,
            "block_ads": True,
            "keep_profile": False,
            "profile_others_drive": False,
        }
        h = await room_socket(again.ws_url, code, host.access_token)
        state = h.received[0]["data"]
        assert same_queue(state["queue"], before["queue"])
        assert state["settings"] == after["settings"]


async def test_media_ended_opens_the_next_queued_address(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    agent = await _agent_with_media(live, code, h, g)
    # the queue is empty: the end of the media changes nothing
    await agent.send("media.ended", {"url": "https://example.com/film"})
    await asyncio.sleep(0.3)
    assert not agent.of_type("browser.navigate") and not h.of_type("queue.changed")
    await asyncio.sleep(2.0)  # the queue moves on at most once per 2 s
    for name in ("first", "second"):
        await g.send("queue.add", {"url": f"https://example.com/{name}"})
        await h.expect("queue.changed")
    await agent.send("media.ended", {"url": "https://example.com/film"})
    nav = await agent.expect("browser.navigate")
    assert nav["data"] == {"url": "https://example.com/first"}
    queue = (await h.expect("queue.changed"))["data"]["queue"]
    assert [e["url"] for e in queue] == ["https://example.com/second"]
    line = await g.expect("chat.message", kind="system")
    assert line["data"]["text"] == "Up next: https://example.com/first"
    assert line["data"]["user"]["id"] == guest.id
    # a second `media.ended` right away (a replayed or flooding agent) does not skip the next
    await agent.send("media.ended", {"url": "https://example.com/first"})
    await asyncio.sleep(0.5)
    assert len(agent.of_type("browser.navigate")) == 1
    detail = (await live.http.get(f"/api/rooms/{code}", headers=host.headers)).json()
    assert [e["url"] for e in detail["queue"]] == ["https://example.com/second"]
    await asyncio.sleep(1.6)
    await agent.send("media.ended", {"url": "https://example.com/first"})
    assert (await agent.expect("browser.navigate"))["data"] == {"url": "https://example.com/second"}
    assert (await h.expect("queue.changed"))["data"]["queue"] == []


async def test_settings_need_the_host_and_a_live_room(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    code = room["code"]
    outsider = await signed_in(live.http)
    resp = await _settings(live, code, outsider.headers, queue_host_only=True)
    assert resp.status_code == 403
    resp = await _settings(live, code, host.headers)  # nothing to change
    assert resp.json() == {
        "anyone_can_pause": True,
        "queue_host_only": False,
        "block_ads": True,
        "keep_profile": False,
        "profile_others_drive": False,
    }
    resp = await live.http.patch(
        f"/api/rooms/{code}/settings", json={"anyone_can_pause": "maybe"}, headers=host.headers
    )
    assert resp.status_code == 422
    detail = (await live.http.get(f"/api/rooms/{code}", headers=host.headers)).json()
    assert detail["queue"] == [] and detail["settings"]["anyone_can_pause"] is True
    assert (await live.http.post(f"/api/rooms/{code}/end", headers=host.headers)).status_code == 200
    resp = await _settings(live, code, host.headers, queue_host_only=True)
    assert resp.status_code == 410
