"""The room's "Block ads" (issue 22) on both backends, through a live server, the REST API, the
room socket and a stand-in agent: chosen at creation (on by default), told to the agent on every
connect (`auth.ok`), changed by the host alone (PATCH /api/rooms/{code}/settings) and then sent to
the room (`room.settings`) and to its agent (`room.settings {block_ads}`), which applies it live."""

from __future__ import annotations

from tests.support.rooms import Live, agent_socket, create_room, join, live, room_socket
from tests.support.users import signed_in

__all__ = ["live"]


async def test_block_ads_is_chosen_at_creation_and_told_to_the_agent(live: Live):
    host = await signed_in(live.http)
    default = await create_room(live.http, host.headers)
    detail = (await live.http.get(f"/api/rooms/{default['code']}", headers=host.headers)).json()
    assert detail["settings"]["block_ads"] is True
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[default["code"]])
    assert agent.of_type("auth.ok")[0]["data"]["block_ads"] is True

    off = await create_room(live.http, host.headers, title="Ads welcome", block_ads=False)
    detail = (await live.http.get(f"/api/rooms/{off['code']}", headers=host.headers)).json()
    assert detail["settings"]["block_ads"] is False
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[off["code"]])
    assert agent.of_type("auth.ok")[0]["data"]["block_ads"] is False
    sock = await room_socket(live.ws_url, off["code"], host.access_token)
    assert sock.received[0]["data"]["settings"]["block_ads"] is False


async def test_the_host_turns_blocking_off_and_on_and_the_agent_hears_it(live: Live):
    host = await signed_in(live.http)
    guest = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    code = room["code"]
    await join(live.http, code, guest.headers)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    g = await room_socket(live.ws_url, code, guest.access_token)

    # Only the host: a member is refused and nothing reaches the agent.
    url = f"/api/rooms/{code}/settings"
    resp = await live.http.patch(url, json={"block_ads": False}, headers=guest.headers)
    assert resp.status_code == 403 and resp.json()["code"] == "not_host"

    resp = await live.http.patch(url, json={"block_ads": False}, headers=host.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "anyone_can_pause": True,
        "queue_host_only": False,
        "block_ads": False,
        "keep_profile": False,
        "profile_others_drive": False,
    }
    assert (await g.expect("room.settings"))["data"] == resp.json()
    assert (await agent.expect("room.settings"))["data"] == {"block_ads": False}
    assert len(agent.of_type("room.settings")) == 1  # the guest's refused change sent nothing

    # Another setting changed: the agent is told the room's block_ads again (still off).
    resp = await live.http.patch(url, json={"anyone_can_pause": False}, headers=host.headers)
    assert resp.json()["block_ads"] is False
    assert (await agent.expect("room.settings"))["data"] == {"block_ads": False}

    resp = await live.http.patch(url, json={"block_ads": True}, headers=host.headers)
    assert resp.json()["block_ads"] is True
    await g.expect("room.settings", block_ads=True)
    assert (await agent.expect("room.settings"))["data"] == {"block_ads": True}
    # A reconnecting agent learns the current value from auth.ok.
    again = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    assert again.of_type("auth.ok")[0]["data"]["block_ads"] is True
