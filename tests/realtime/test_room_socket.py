"""The room WebSocket on both backends: auth, state, chat, presence, remote, relay, bad input."""

from __future__ import annotations

import asyncio
import json

import websockets

from tests.support.rooms import (
    Live,
    agent_socket,
    create_room,
    live,
    room_socket,
    room_with_guests,
)
from tests.support.users import signed_in
from tests.support.waits import eventually

__all__ = ["live"]


async def test_auth_first_frame_and_membership(live: Live, settings_factory):
    room, host, _ = await room_with_guests(live, 0)
    outsider = await signed_in(live.http)
    url = f"{live.ws_url}/api/rooms/{room['code']}/ws"

    async def close_code(first: str | None) -> int | None:
        async with websockets.connect(url) as ws:
            if first is not None:
                await ws.send(first)
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed:
                pass
            return ws.close_code

    assert await close_code(json.dumps({"type": "auth", "token": "garbage"})) == 4401
    assert await close_code(json.dumps({"type": "chat.send", "data": {"text": "hi"}})) == 4401
    assert await close_code("not json") == 4401
    assert await close_code(json.dumps({"type": "auth", "data": {"token": "x.y.z"}})) == 4401
    assert (
        await close_code(json.dumps({"type": "auth", "data": {"token": outsider.access_token}}))
        == 4403
    )
    bad_room = f"{live.ws_url}/api/rooms/zzzzzzzz/ws"
    async with websockets.connect(bad_room) as ws:
        await ws.send(json.dumps({"type": "auth", "data": {"token": host.access_token}}))
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == 4404


async def test_no_auth_frame_closes_after_the_timeout(settings_factory):
    from tests.support.rooms import live_server

    settings = await settings_factory(ROOM_WS_AUTH_TIMEOUT_SECONDS=0.5)
    async with live_server(settings) as srv:
        host = await signed_in(srv.http)
        room = await create_room(srv.http, host.headers)
        async with websockets.connect(f"{srv.ws_url}/api/rooms/{room['code']}/ws") as ws:
            t0 = asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed:
                pass
            assert ws.close_code == 4401
            assert asyncio.get_running_loop().time() - t0 < 5


async def test_room_state_on_connect(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    a = await room_socket(live.ws_url, room["code"], host.access_token)
    await a.send("chat.send", {"text": "before you came"})
    await a.expect("chat.message")
    b = await room_socket(live.ws_url, room["code"], guest.access_token)
    state = b.received[0]
    assert state["type"] == "room.state" and isinstance(state["seq"], int) and state["ts"]
    d = state["data"]
    assert d["room"]["code"] == room["code"] and d["room"]["status"] == "starting"
    assert d["you"]["user_id"] == guest.id and d["you"]["role"] == "guest"
    people = {p["user_id"]: p for p in d["participants"]}
    assert people[host.id]["role"] == "host" and people[host.id]["online"]
    assert people[guest.id]["role"] == "guest" and people[guest.id]["online"]
    assert d["remote"] == {"holder_id": host.id, "requests": []}
    assert d["browser"] is None and d["agent_connected"] is False
    assert [m["text"] for m in d["chat"]] == ["before you came"]
    assert isinstance(d["ice_servers"], list)


async def test_chat_is_persisted_broadcast_cleaned_and_rate_limited(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    a = await room_socket(live.ws_url, room["code"], host.access_token)
    b = await room_socket(live.ws_url, room["code"], guest.access_token)
    await b.send(
        "chat.send", {"text": "<script>alert(1)</script>\x1b[31m 🎬\n", "client_id": "c-1"}
    )
    msg = await a.expect("chat.message", client_id="c-1")
    assert msg["data"]["text"] == "<script>alert(1)</script>[31m 🎬"
    assert msg["data"]["user"] == {"id": guest.id, "username": guest.username}
    await b.expect("chat.message", client_id="c-1")
    hist = await live.http.get(f"/api/rooms/{room['code']}/messages", headers=host.headers)
    assert hist.json()["data"][0]["id"] == msg["data"]["id"]
    await b.send("chat.send", {"text": "x" * 2001})
    assert (await b.expect("error", code="too_long"))["data"]["type"] == "chat.send"
    await b.send("chat.send", {"text": " \x00 "})
    await b.expect("error", code="empty_message")
    for i in range(12):
        await b.send("chat.send", {"text": f"flood {i}"})
    await b.expect("error", code="rate_limited")

    def flood() -> int:
        return len([m for m in a.of_type("chat.message") if m["data"]["text"].startswith("flood")])

    await eventually(lambda: flood() >= 9, what="the 9 flood messages under the limit")
    await asyncio.sleep(0.3)  # and no more of them after those
    assert flood() == 9
    # typing is relayed and expires by itself (false on the next message)
    await a.send("chat.typing", {"typing": True})
    await b.expect("chat.typing", user_id=host.id, typing=True)
    await a.send("chat.typing", {"typing": False})
    await b.expect("chat.typing", user_id=host.id, typing=False)


async def test_presence_counts_tabs_once_and_waits_for_the_grace(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    a = await room_socket(live.ws_url, room["code"], host.access_token)
    tab1 = await room_socket(live.ws_url, room["code"], guest.access_token)
    await a.expect("presence.joined", user_id=guest.id)
    tab2 = await room_socket(live.ws_url, room["code"], guest.access_token)
    await tab1.close()
    await asyncio.sleep(0.5)  # beyond the 0.2 s grace: tab2 still holds the user online
    assert not a.of_type("presence.left")
    await tab2.close()
    await a.expect("presence.left", user_id=guest.id)
    # a reload inside the grace period is silent
    tab3 = await room_socket(live.ws_url, room["code"], guest.access_token)
    await a.expect("presence.joined", user_id=guest.id)
    await tab3.close()
    tab4 = await room_socket(live.ws_url, room["code"], guest.access_token)
    await asyncio.sleep(0.5)
    assert len(a.of_type("presence.left")) == 1 and len(a.of_type("presence.joined")) == 2
    await tab4.close()


async def test_remote_control_rules(live: Live):
    room, host, (g1, g2) = await room_with_guests(live, 2)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    a = await room_socket(live.ws_url, code, g1.access_token)
    b = await room_socket(live.ws_url, code, g2.access_token)
    # guests cannot take, revoke, grant or release what they do not hold
    for t, d, err in [
        ("remote.take", {}, "forbidden"),
        ("remote.revoke", {}, "forbidden"),
        ("remote.release", {}, "not_holder"),
        ("remote.pass", {"user_id": g2.id}, "not_holder"),
    ]:
        await a.send(t, d)
        await a.expect("error", code=err)
    await a.send("remote.request")
    await h.expect("remote.requested", user_id=g1.id)
    await b.send("remote.grant", {"user_id": g1.id})
    await b.expect("error", code="forbidden")
    await h.send("remote.grant", {"user_id": g1.id})
    changed = await b.expect("remote.changed", holder_id=g1.id)
    assert changed["data"]["by"] == host.id and changed["data"]["reason"] == "granted"
    await a.send("remote.pass", {"user_id": g2.id})
    await h.expect("remote.changed", holder_id=g2.id, reason="passed")
    await h.send("remote.take")
    await a.expect("remote.changed", holder_id=host.id, reason="taken")
    await h.send("remote.pass", {"user_id": g1.id})
    await h.expect("remote.changed", holder_id=g1.id)
    await h.send("remote.revoke")
    await b.expect("remote.changed", holder_id=host.id, reason="revoked")
    await h.send("remote.release")
    await a.expect("remote.changed", holder_id=None, reason="released")
    await b.send("remote.request")
    await h.expect("remote.changed", holder_id=g2.id, reason="claimed")
    # kicking the holder releases it and closes their sockets with 4403
    resp = await live.http.delete(f"/api/rooms/{code}/participants/{g2.id}", headers=host.headers)
    assert resp.status_code == 204
    await h.expect("remote.changed", holder_id=None, reason="holder_kicked")
    await h.expect("participant.removed", user_id=g2.id, reason="kicked")
    assert await b.closed() == 4403
    again = await room_socket(live.ws_url, code, g2.access_token, state=False)
    assert await again.closed() == 4403
    # pass to a non-member is refused
    await h.send("remote.request")
    await h.expect("remote.changed", holder_id=host.id)
    await h.send("remote.pass", {"user_id": g2.id})
    await h.expect("error", code="invalid_target")


async def test_browser_commands_holder_only_and_url_policy(live: Live, settings_factory):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    for t, d in [
        ("browser.navigate", {"url": "https://example.com/"}),
        ("browser.back", {}),
        ("browser.click", {"x": 0.5, "y": 0.5, "button": "left"}),
        ("browser.keypress", {"key": "a", "code": "KeyA", "modifiers": []}),
    ]:
        await g.send(t, d)
        await g.expect("error", code="not_holder")
    await h.send("browser.navigate", {"url": "ftp://example.com/"})
    await h.expect("error", code="url_not_allowed")
    inputs = [
        ("browser.navigate", {"url": "http://127.0.0.1:9/"}),  # tests allow private URLs
        ("browser.back", {}),
        ("browser.forward", {}),
        ("browser.reload", {}),
        ("browser.mouse_move", {"x": 0.25, "y": 0.75}),
        ("browser.click", {"x": 0.5, "y": 0.5, "button": "right"}),
        ("browser.scroll", {"x": 0.5, "y": 0.5, "dx": 0, "dy": 120}),
        ("browser.keypress", {"key": "Enter", "code": "Enter", "modifiers": ["ctrl", "shift"]}),
    ]
    for t, d in inputs:
        await h.send(t, d)
    for t, d in inputs:
        got = await agent.expect(t)
        assert got["data"] == d
    assert not [m for m in agent.received if m["type"].startswith("browser.") and m in g.received]
    # the agent's status reaches everyone and is part of the next room.state
    status = {
        "url": "http://127.0.0.1:9/",
        "title": "<b>t</b>",
        "can_go_back": True,
        "can_go_forward": False,
        "loading": False,
    }
    await agent.send("browser.status", status)
    assert (await g.expect("browser.status"))["data"] == status
    late = await room_socket(live.ws_url, code, guest.access_token)
    assert late.received[0]["data"]["browser"] == status
    assert late.received[0]["data"]["agent_connected"] is True


async def test_agent_channel_auth_ready_and_signaling(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    started = live.runtime.started[code]
    bad = await websockets.connect(f"{live.agent_ws_url}/internal/agents/ws")
    await bad.send(
        json.dumps({"type": "auth", "data": {"room_id": str(started.room_id), "secret": "wrong"}})
    )
    try:
        await asyncio.wait_for(bad.recv(), 10)
    except websockets.ConnectionClosed:
        pass
    assert bad.close_code == 4401
    g = await room_socket(live.ws_url, code, guest.access_token)
    await g.send("rtc.offer", {"to": "agent", "sdp": "v=0 offer"})
    await g.expect("error", code="agent_unavailable")
    agent = await agent_socket(live.agent_ws_url, started)
    ok = agent.received[0]["data"]
    assert ok["room_id"] == str(started.room_id) and ok["holder_id"] == host.id
    await g.expect("room.status", agent_connected=True)
    await agent.send("stage", {"stage": "browser_ready"})
    await g.expect("room.status", stage="browser_ready")
    await agent.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
    ready = await g.expect("room.status", status="ready")
    assert ready["data"]["video"] == {"width": 1280, "height": 720, "fps": 30, "codec": "h264"}
    got = await live.http.get(f"/api/rooms/{code}", headers=host.headers)
    assert got.json()["status"] == "ready"
    await agent.send("heartbeat", {"viewers": 1})
    await g.send("rtc.offer", {"to": "agent", "sdp": "v=0 offer"})
    offer = await agent.expect("rtc.offer")
    assert offer["data"]["from"] == guest.id and offer["data"]["sdp"] == "v=0 offer"
    await agent.send(
        "rtc.answer", {"to": guest.id, "conn": offer["data"]["conn"], "sdp": "v=0 answer"}
    )
    answer = await g.expect("rtc.answer")
    assert answer["data"] == {"from": "agent", "sdp": "v=0 answer"}
    await agent.send(
        "error", {"code": "bad_offer", "message": "no video m-line", "conn": offer["data"]["conn"]}
    )
    await g.expect("error", code="agent_error")
    # voice mesh between users in voice, and voice state
    h = await room_socket(live.ws_url, code, host.access_token)
    for sock in (h, g):
        await sock.send("voice.state", {"muted": False, "deafened": False, "speaking": False})
    await h.expect("voice.state", user_id=guest.id)
    await h.send("rtc.offer", {"to": guest.id, "sdp": "voice offer"})
    v = await g.expect("rtc.offer")
    assert v["data"]["from"] == host.id and v["data"]["sdp"] == "voice offer"
    await g.send("rtc.answer", {"to": host.id, "sdp": "voice answer", "conn": v["data"]["conn"]})
    assert (await h.expect("rtc.answer"))["data"]["from"] == guest.id
    await g.send(
        "rtc.ice",
        {
            "to": host.id,
            "candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
    )
    ice = await h.expect("rtc.ice")
    assert ice["data"]["sdpMid"] == "0" and ice["data"]["from"] == guest.id
    await g.send("rtc.offer", {"to": "someone-else", "sdp": "x"})
    await g.expect("error", code="invalid_target")
    await g.send("voice.state", {"muted": True, "deafened": False, "speaking": False})
    await h.expect("voice.state", user_id=guest.id, muted=True)
    # holder changes reach the agent; the viewer's socket closing reaches it too
    await h.send("remote.pass", {"user_id": guest.id})
    await agent.expect("remote.changed", holder_id=guest.id)
    await g.close()
    await agent.expect("peer.closed", conn=offer["data"]["conn"])
    # ending the room tells the agent and closes it
    await live.http.post(f"/api/rooms/{code}/end", headers=host.headers)
    await agent.expect("room.ended")
    assert await agent.closed() == 4410
    assert await h.closed() == 4410
    ended = await room_socket(live.ws_url, code, host.access_token, state=False)
    assert await ended.closed() == 4410


async def test_bad_input_never_breaks_the_room(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    h = await room_socket(live.ws_url, room["code"], host.access_token)
    g = await room_socket(live.ws_url, room["code"], guest.access_token)
    for raw, code in [
        ("{not json", "bad_json"),
        ("[]", "bad_message"),
        ('{"type": "no.such.thing", "data": {}}', "unknown_type"),
        ('{"type": "chat.send"}', "invalid"),
        ('{"type": "chat.send", "data": {"text": 5}}', "invalid"),
        ('{"type": "remote.grant", "data": {"user_id": "x"}}', "invalid"),
        ('{"type": "browser.click", "data": {"x": "NaN", "y": 1e309}}', "invalid"),
    ]:
        await g.send_raw(raw)
        await g.expect("error", code=code)
    await g.send_raw(b"\x00\x01 binary")
    await g.expect("error", code="bad_message")
    # the flood guard answers once, then drops; the socket stays usable
    for _ in range(150):
        await g.send("ping")
    await g.expect("error", code="rate_limited")
    await asyncio.sleep(1.1)
    await g.send("chat.send", {"text": "still here"})
    await h.expect("chat.message", text="still here")
    # a huge frame is refused and closes only that socket
    await g.send_raw(json.dumps({"type": "chat.send", "data": {"text": "x" * 70_000}}))
    assert await g.closed() == 1009
    await h.send("chat.send", {"text": "room unaffected"})
    await h.expect("chat.message", text="room unaffected")
    health = await live.http.get("/healthz")
    assert health.status_code == 200


async def test_seq_is_gap_free_and_ordered_for_every_client(live: Live):
    room, host, guests = await room_with_guests(live, 3)
    socks = [await room_socket(live.ws_url, room["code"], u.access_token) for u in [host, *guests]]
    await asyncio.gather(
        *(s.send("chat.send", {"text": f"{i}-{n}"}) for n in range(5) for i, s in enumerate(socks))
    )
    for s in socks:
        for _ in range(20):
            await s.expect("chat.message")
    for s in socks:
        start = s.received[0]["seq"]
        seqs = [m["seq"] for m in s.received[1:] if m["type"] not in ("error", "pong")]
        assert seqs == list(range(start + 1, start + 1 + len(seqs))), seqs


async def test_leaving_voice_clears_the_voice_state_for_everyone(live: Live):
    room, host, (guest,) = await room_with_guests(live)
    h = await room_socket(live.ws_url, room["code"], host.access_token)
    g = await room_socket(live.ws_url, room["code"], guest.access_token)
    await g.send("voice.state", {"muted": False, "deafened": False, "speaking": True})
    await h.expect("voice.state", user_id=guest.id, speaking=True)
    await g.send("voice.leave", {})
    left = await h.expect("voice.left")
    assert left["data"] == {"user_id": guest.id}
    # A newcomer's snapshot no longer shows the guest in voice (the guest is still online).
    late = await room_socket(live.ws_url, room["code"], host.access_token, state=False)
    state = await late.expect("room.state")
    guest_row = next(p for p in state["data"]["participants"] if p["user_id"] == guest.id)
    assert guest_row["online"] is True and guest_row["voice"] is None
