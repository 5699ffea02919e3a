"""The room browser's tabs (issue 22) on both backends, through a live server, the room socket
and a stand-in agent: only the holder of the remote opens, switches and closes tabs (refused on
the server, never forwarded), the agent is told who asked, the cap and the last tab hold, the
agent's `tabs.state` reaches everyone and a reloaded page (cut to size), its refusals reach the
asker alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.rooms import (
    Live,
    agent_socket,
    live_server,
    room_socket,
    room_with_guests,
)


def tabs(*ids: str, active: str | None = None, cap: int = 3) -> dict[str, Any]:
    return {
        "tabs": [{"id": i, "title": f"Page {i}", "url": f"https://example.com/{i}"} for i in ids],
        "active": active if active is not None else ids[-1],
        "max": cap,
    }


@pytest.fixture
async def live(settings_factory: Any) -> AsyncIterator[Live]:
    settings = await settings_factory(ROOM_PRESENCE_GRACE_SECONDS=0.2, ROOM_MAX_TABS=3)
    async with live_server(settings) as server:
        yield server


async def test_only_the_holder_changes_tabs_and_everyone_sees_them(live: Live) -> None:
    room, host, (guest,) = await room_with_guests(live)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    g = await room_socket(live.ws_url, code, guest.access_token)
    assert h.received[0]["data"]["tabs"] is None  # nothing reported yet
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    await agent.send("tabs.state", tabs("a"))
    for sock in (h, g):
        assert (await sock.expect("tabs.state"))["data"] == tabs("a")

    # The host holds the remote (a new room's): the guest is refused on the server.
    await g.send("tabs.open", {})
    await g.expect("error", code="not_holder", type="tabs.open")
    await h.send("tabs.open", {"url": "https://example.com/b"})
    opened = await agent.expect("tabs.open")
    # The agent learns who asked (it checks the holder again) and which socket to answer.
    assert opened["data"] == {"url": "https://example.com/b", "by": host.id, "conn": h.conn_id}

    # The host passes the remote: now the guest may, the host may not.
    await h.send("remote.pass", {"user_id": guest.id})
    await g.expect("remote.changed", holder_id=guest.id)
    await h.send("tabs.switch", {"id": "a"})
    await h.expect("error", code="not_holder", type="tabs.switch")
    await h.send("tabs.close", {"id": "a"})
    await h.expect("error", code="not_holder", type="tabs.close")
    await g.send("tabs.open", {})
    assert (await agent.expect("tabs.open"))["data"] == {
        "url": None,  # a blank tab
        "by": guest.id,
        "conn": g.conn_id,
    }
    await g.send("tabs.open", {"url": "file:///etc/passwd"})
    await g.expect("error", code="url_not_allowed", type="tabs.open")

    await agent.send("tabs.state", tabs("a", "b"))
    assert (await h.expect("tabs.state"))["data"] == tabs("a", "b")
    await g.send("tabs.switch", {"id": "a"})
    assert (await agent.expect("tabs.switch"))["data"] == {
        "id": "a",
        "by": guest.id,
        "conn": g.conn_id,
    }
    await g.send("tabs.switch", {"id": "zz"})
    await g.expect("error", code="no_such_tab", type="tabs.switch")
    await g.send("tabs.close", {"id": "b"})
    assert (await agent.expect("tabs.close"))["data"]["id"] == "b"

    # The cap (ROOM_MAX_TABS = 3) and the last tab, against the agent's last report.
    await agent.send("tabs.state", tabs("a", "b", "c"))
    await g.expect("tabs.state", active="c")
    await g.send("tabs.open", {})
    refused = await g.expect("error", code="too_many_tabs", type="tabs.open")
    assert "3 tabs" in refused["data"]["detail"]
    await agent.send("tabs.state", tabs("c"))
    await g.expect("tabs.state", active="c")
    await g.send("tabs.close", {"id": "c"})
    await g.expect("error", code="last_tab", type="tabs.close")

    # Nothing the server refused reached the agent.
    assert len(agent.of_type("tabs.open")) == 2
    assert len(agent.of_type("tabs.switch")) == 1
    assert len(agent.of_type("tabs.close")) == 1

    # What the agent refuses itself reaches the asker alone, as the server's refusals read.
    await agent.send(
        "tabs.refused",
        {
            "type": "tabs.open",
            "code": "too_many_tabs",
            "message": "The room's browser has at most 3 tabs",
            "conn": g.conn_id,
        },
    )
    await g.expect("error", code="too_many_tabs", type="tabs.open")
    await h.send("ping")
    await h.expect("pong")
    assert not [e for e in h.of_type("error") if e["data"]["code"] == "too_many_tabs"]

    # A reloaded page (a new socket) gets the tabs in its room.state.
    again = await room_socket(live.ws_url, code, host.access_token)
    assert again.received[0]["data"]["tabs"] == tabs("c")


async def test_an_agents_tabs_state_is_cut_to_size(live: Live) -> None:
    room, host, _ = await room_with_guests(live)
    code = room["code"]
    h = await room_socket(live.ws_url, code, host.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[code])
    # Past every limit, inside the agent channel's 64 KiB frame: 22 tabs, long everything.
    many = [{"id": f"t{i:02}" * 30, "title": "T" * 400, "url": "u" * 2100} for i in range(22)]
    await agent.send("tabs.state", {"tabs": many, "active": "x" * 500, "max": "lots"})
    state = (await h.expect("tabs.state"))["data"]
    assert len(state["tabs"]) == 20
    assert {len(t["id"]) for t in state["tabs"]} == {64}
    assert {len(t["title"]) for t in state["tabs"]} == {300}
    assert {len(t["url"]) for t in state["tabs"]} == {2048}
    assert len(state["active"]) == 64 and state["max"] == 1
