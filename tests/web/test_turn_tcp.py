"""A viewer whose network drops all UDP still watches: the room page uses the TURN-over-TCP URL
the API hands out, and the stream reaches it through a relay candidate over TCP.

Real parts: `watchparty serve` (embedded, local rooms: Xvfb + Chromium + agent on this host) with
TURN_URLS naming one `turn:` (UDP) server, a coturn started with the deployment's generated
policy, and the viewer: headless Chromium (the built web app) run inside a network namespace
whose iptables drop every UDP datagram in and out (`ip netns exec NS /usr/bin/chromium`, given to
Playwright as its executable). The agent reaches the relay on the host's end of the link.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright

from tests.support.backends import base_env
from tests.support.browser import frames_in, register, stream_playing
from tests.support.netns import block_udp, netns_link
from tests.support.processes import kill_rooms
from tests.support.rooms import create_room
from tests.support.servers import run_server
from tests.support.smtp import free_port
from tests.support.turn_client import policy_coturn
from tests.support.users import signed_in
from tests.support.web import CHROMIUM_ARGS, DIST, netns_viewer_skip_reason

pytestmark = [pytest.mark.x11, pytest.mark.timeout(300)]

LINK_NET = "10.250.93."  # host .1 (API, coturn), the viewer's namespace .2
SECRET = "turn-tcp-test-secret-0123456789abcdef"

# Every RTCPeerConnection the page makes, so the test can read the stream peer's stats.
RECORD_PEERS_JS = """(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})()"""

# The selected ICE pair's local candidate, and the video decoded, of the last connected peer.
PATH_JS = """async () => {
  const pc = window.__pcs.filter((p) => p.connectionState === 'connected').pop();
  if (!pc) return null;
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null, framesDecoded = 0;
  report.forEach((s) => {
    const selected = s.type === 'transport' && s.selectedCandidatePairId;
    if (selected) pair = byId.get(selected);
    if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded = s.framesDecoded || 0;
  });
  const local = pair ? byId.get(pair.localCandidateId) : null;
  const urls = pc.getConfiguration().iceServers.flatMap((s) => [].concat(s.urls));
  return {type: local && local.candidateType, relayProtocol: local && local.relayProtocol,
          framesDecoded, urls};
}"""


async def test_viewer_without_udp_watches_through_turn_over_tcp(
    tmp_path: Path, pages_url: str
) -> None:
    if reason := netns_viewer_skip_reason("iptables", "turnserver"):
        pytest.skip(reason)
    name = f"wptcp{uuid.uuid4().hex[:4]}"
    deployment = f"turn-tcp-{uuid.uuid4().hex[:8]}"
    port = free_port()
    with netns_link(name=name, link_net=LINK_NET) as link:
        block_udp(link)
        base = f"http://{link.host_ip}:{port}"
        wrapper = tmp_path / "chromium-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} /usr/bin/chromium "$@"\n')
        wrapper.chmod(0o755)
        turn_port = free_port()
        with policy_coturn(
            tmp_path,
            ip=link.host_ip,
            port=turn_port,
            secret=SECRET,
            allowed_peers=(f"{link.host_ip}-{link.host_ip}",),  # the agent's address on the link
        ) as turn_url:
            env = base_env(
                DATA_DIR=tmp_path / "data",
                ROOM_RUNTIME="local",
                PUBLIC_URL=base,
                DEPLOYMENT_ID=deployment,
                WEB_DIR=DIST,
                TURN_URLS=turn_url,
                TURN_SECRET=SECRET,
            )
            try:
                with run_server(env, log_dir=tmp_path, migrate=True, port=port, host="0.0.0.0"):
                    await _watch(base, f"http://127.0.0.1:{port}", pages_url, wrapper, name)
            finally:
                kill_rooms(deployment)


async def _watch(base: str, local: str, pages_url: str, wrapper: Path, name: str) -> None:
    async with httpx.AsyncClient(base_url=local, timeout=30) as http:
        host = await signed_in(http)
        room = await create_room(http, host.headers, start_url=f"{pages_url}/anim.html")
    async with async_playwright() as p:
        # An http:// origin other than localhost is not a secure context; the app's token
        # refresh uses Web Locks, which need one.
        args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={base}"]
        browser = await p.chromium.launch(executable_path=str(wrapper), args=args)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
            await ctx.add_init_script(script=RECORD_PEERS_JS)
            page = await ctx.new_page()
            await register(page, base, f"udpless{name[-4:]}")
            await page.goto(f"{base}/room/{room['code']}")
            await stream_playing(page, within=90)
            assert await frames_in(page, 2000) >= 10, "the picture does not move"
            path: dict[str, Any] = await page.evaluate(PATH_JS)
            assert path is not None, "no connected stream peer"
            # What the API handed out is what the page used, TCP twin included.
            assert any(u.endswith("?transport=tcp") for u in path["urls"]), path["urls"]
            assert (path["type"], path["relayProtocol"]) == ("relay", "tcp"), path
            before = path["framesDecoded"]
            await page.wait_for_timeout(1000)
            after: dict[str, Any] = await page.evaluate(PATH_JS)
            assert after["framesDecoded"] > before + 5, (before, after)
        finally:
            await browser.close()
