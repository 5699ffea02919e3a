"""The real agent (issue 11): a viewer cap, offers rate-limited per connection, and peers of
connections the control plane no longer lists (`peers.sync`) dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from tests.support.agent import Viewer, start_agent

pytestmark = pytest.mark.x11


async def _sdp() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_viewer_cap_offer_rate_and_peer_sync(log_dir: Path) -> None:
    cp, agent = await start_agent(
        log_dir,
        "vp8",
        extra_env={
            "WP_MAX_VIEWERS": "1",
            "WP_OFFER_RATE_COUNT": "2",
            "WP_PEER_SYNC_GRACE_S": "0",
        },
    )
    first = Viewer(cp, "ana")
    pc, sdp = await _sdp()
    try:
        await first.connect()
        await first.wait_frame(lambda f: True, 10)
        # a second connection is past the cap
        with pytest.raises(RuntimeError, match="too_many_viewers"):
            await cp.offer("conn-extra", "ben", sdp)
        # the first connection offered once; one more is allowed, the next refused
        await cp.offer(first.conn, "ana", sdp)
        with pytest.raises(RuntimeError, match="rate_limited"):
            await cp.offer(first.conn, "ana", sdp)
        assert (await cp.heartbeat())["viewers"] == 1
        # the control plane lists nobody: the peer goes although no peer.closed came
        await cp.send("peers.sync", {"conns": []})
        hb = await cp.wait_for(lambda m: m["type"] == "heartbeat" and m["data"]["viewers"] == 0, 10)
        assert hb["data"]["viewers"] == 0
    finally:
        await pc.close()
        await first.close()
        await agent.stop()
        await cp.stop()
