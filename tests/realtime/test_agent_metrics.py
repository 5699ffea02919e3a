"""Issue 18: the encoder ladder's figures in a room agent's heartbeat reach /metrics (viewers per
rung, keyframes and encode CPU per rung, rung switches, each viewer's estimate and rung), for as
long as the agent is connected; malformed figures are dropped, never an error."""

from __future__ import annotations

import asyncio

from controlplane.realtime.agent_media import media_figures
from tests.support.rooms import Live, agent_socket, live, room_with_guests

__all__ = ["live"]

HEARTBEAT = {
    "viewers": 2,
    "rung_switches": 3,
    "rungs": [
        {"rung": "720p", "viewers": 1, "keyframes": 4, "encode_cpu_percent": 21.5},
        {"rung": "480p", "viewers": 1, "keyframes": 7, "encode_cpu_percent": 9.0},
        {"rung": "360p15", "viewers": 0, "keyframes": 0, "encode_cpu_percent": 0},
    ],
    "viewer_quality": [
        {"conn": "c-good", "user": "u1", "rung": 720, "estimate_kbps": 12000},
        {"conn": "c-weak", "user": "u2", "rung": 480, "estimate_kbps": 1210},
    ],
}


def test_malformed_figures_are_dropped() -> None:
    figures = media_figures(
        {
            "rung_switches": "many",
            "rungs": [
                {"rung": "720p", "viewers": -1},
                "x",
                {"rung": "480p", "viewers": 2, "keyframes": 1, "encode_cpu_percent": 3},
            ],
            "viewer_quality": {"not": "a list"},
        }
    )
    assert [r.rung for r in figures.rungs] == ["480p"]
    assert figures.rung_switches == 0 and figures.viewers == []
    assert media_figures({}).rungs == []


async def test_heartbeat_figures_reach_metrics_while_the_agent_is_connected(live: Live) -> None:
    room, _, _ = await room_with_guests(live, 0)
    started = live.runtime.started[room["code"]]
    agent = await agent_socket(live.agent_ws_url, started)
    rid = str(started.room_id)
    await agent.send("heartbeat", HEARTBEAT)
    text = ""
    for _ in range(50):
        text = (await live.http.get("/metrics")).text
        if "watchparty_agent_rung_viewers" in text and rid in text:
            break
        await asyncio.sleep(0.1)
    assert f'watchparty_agent_rung_viewers{{room="{rid}",rung="480p"}} 1.0' in text
    assert f'watchparty_agent_rung_keyframes{{room="{rid}",rung="480p"}} 7.0' in text
    assert f'watchparty_agent_rung_encode_cpu_percent{{room="{rid}",rung="720p"}} 21.5' in text
    assert f'watchparty_agent_rung_switches{{room="{rid}"}} 3.0' in text
    assert f'watchparty_agent_viewer_estimate_kbps{{conn="c-weak",room="{rid}"}} 1210.0' in text
    assert f'watchparty_agent_viewer_rung_height{{conn="c-good",room="{rid}"}} 720.0' in text
    await agent.close()
    for _ in range(50):
        text = (await live.http.get("/metrics")).text
        if rid not in text:
            break
        await asyncio.sleep(0.1)
    assert f'room="{rid}"' not in text
