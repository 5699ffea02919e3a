"""The agent's viewer cap and per-connection offer rate (issue 11 #7): every offer tears down
and rebuilds a peer connection, so neither may be unbounded."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection
from roomagent.config import AgentSettings
from roomagent.media.fanout import Broadcaster
from roomagent.peers import OfferRefused, PeerManager

from controlplane.runtime.agent_env import VIEWER_MARGIN, agent_env
from tests.support.backends import make_settings


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


@pytest.fixture
async def peers():
    made: list[PeerManager] = []

    def make(**over) -> PeerManager:
        settings = AgentSettings(codec="vp8", **over)
        pm = PeerManager(
            settings,
            Broadcaster("video", 4),
            Broadcaster("audio", 4),
            lambda: None,
            lambda v, m: None,
        )
        made.append(pm)
        return pm

    yield make
    for pm in made:
        await pm.close_all()
    await asyncio.sleep(0)


async def test_offers_past_the_viewer_cap_are_refused(peers):
    pm = peers(max_viewers=2)
    pcs = []
    try:
        for conn in ("c1", "c2"):
            pc, sdp = await _offer()
            pcs.append(pc)
            await pm.answer(conn, "ana", sdp)
        pc, sdp = await _offer()
        pcs.append(pc)
        with pytest.raises(OfferRefused) as refused:
            await pm.answer("c3", "ben", sdp)
        assert refused.value.code == "too_many_viewers"
        assert set(pm.viewers) == {"c1", "c2"}
        # a viewer already counted may renegotiate, and a freed place is taken again
        await pm.answer("c1", "ana", sdp)
        await pm.close("c2")
        await pm.answer("c3", "ben", sdp)
    finally:
        for pc in pcs:
            await pc.close()


async def test_offers_are_rate_limited_per_connection(peers):
    pm = peers(offer_rate_count=3, offer_rate_window_s=0.5)
    pc, sdp = await _offer()
    try:
        for _ in range(3):
            await pm.answer("c1", "ana", sdp)
        with pytest.raises(OfferRefused) as refused:
            await pm.answer("c1", "ana", sdp)
        assert refused.value.code == "rate_limited"
        await pm.answer("c2", "ben", sdp)  # another connection has its own budget
        await asyncio.sleep(0.6)
        await pm.answer("c1", "ana", sdp)
    finally:
        await pc.close()


def test_the_viewer_cap_reaches_the_agent_through_agent_env():
    import uuid

    def cap(**over) -> int:
        env = agent_env(
            settings=make_settings(**over), room_id=uuid.uuid4(), agent_secret="s", start_url=None
        )
        return AgentSettings(max_viewers=env["WP_MAX_VIEWERS"]).max_viewers

    assert cap(ROOM_MAX_PARTICIPANTS_CAP=12) == 12 + VIEWER_MARGIN
    assert cap(ROOM_AGENT_MAX_VIEWERS=7) == 7


async def test_reconcile_drops_peers_of_departed_connections_after_a_grace(peers):
    """Issue 11 #3: `peers.sync` / `auth.ok` conns: a peer whose connection is not in the room
    any more is closed (its `peer.closed` was lost); a brand-new one is spared."""
    pm = peers(peer_sync_grace_s=0.3)
    pc, sdp = await _offer()
    try:
        for conn in ("stays", "kicked"):
            await pm.answer(conn, "ana", sdp)
        assert await pm.reconcile({"stays"}) == []  # both younger than the grace
        await asyncio.sleep(0.35)
        await pm.answer("new", "ben", sdp)
        assert await pm.reconcile({"stays"}) == ["kicked"]
        assert set(pm.viewers) == {"stays", "new"}
    finally:
        await pc.close()
