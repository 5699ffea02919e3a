"""One aiortc peer connection per viewer connection (``conn``), all fed by the shared encoders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import MediaStreamTrack

from .config import AgentSettings
from .input import wire
from .media.clock import map_sender_reports
from .media.fanout import Broadcaster, FrameBroadcaster, FrameTrack, PacketTrack
from .media.keyframes import route_keyframe_requests
from .media.playout import PlayoutLimits
from .media.playout_extension import negotiate_playout_delay
from .media.video import h264_level, profile_level_id

log = logging.getLogger("roomagent.peers")

InputHandler = Callable[["Viewer", wire.Message], None]
MAX_BUFFERED = 256 * 1024


def ice_config(servers: list[dict[str, Any]]) -> RTCConfiguration:
    """aiortc uses at most one STUN and one TURN server: pick the first of each."""
    stun: RTCIceServer | None = None
    turn: RTCIceServer | None = None
    for s in servers:
        urls = s.get("urls") or s.get("url") or []
        if isinstance(urls, str):
            urls = [urls]
        for url in urls:
            if url.startswith("stun:") and stun is None:
                stun = RTCIceServer(urls=url)
            elif url.startswith(("turn:", "turns:")) and turn is None:
                turn = RTCIceServer(
                    urls=url, username=s.get("username"), credential=s.get("credential")
                )
    return RTCConfiguration(iceServers=[s for s in (stun, turn) if s is not None])


class OfferRefused(Exception):
    """An offer the agent will not answer: `code` is the error code relayed to the viewer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Viewer:
    def __init__(self, conn: str, user_id: str, pc: RTCPeerConnection) -> None:
        self.conn = conn
        self.user_id = user_id
        self.pc = pc
        self.tracks: list[PacketTrack | FrameTrack] = []
        self.pointer: RTCDataChannel | None = None
        self.input: RTCDataChannel | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        # Inbound media we do not use (a browser may send a track): consumed, so it cannot pile up.
        self.blackhole = MediaBlackhole()
        self.plis = 0
        # whether this viewer's video carries the playout-delay extension (its browser offered it)
        self.playout_delay = False
        self.closed = False
        self.created = time.monotonic()

    def send_pointer(self, data: bytes) -> None:
        ch = self.pointer
        if ch is not None and ch.readyState == "open" and ch.bufferedAmount < MAX_BUFFERED:
            ch.send(data)

    def send_input(self, data: bytes) -> None:
        ch = self.input
        if ch is not None and ch.readyState == "open" and ch.bufferedAmount < MAX_BUFFERED:
            ch.send(data)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for t in self.tracks:
            t.stop()
        for task in list(self.tasks):
            task.cancel()
        await self.blackhole.stop()
        await self.pc.close()


class PeerManager:
    def __init__(
        self,
        settings: AgentSettings,
        video: Broadcaster,
        audio: Broadcaster,
        request_keyframe: Callable[[], None],
        on_input: InputHandler,
        frames: FrameBroadcaster | None = None,
        t0: float | None = None,
        playout: Callable[[], PlayoutLimits] | None = None,
    ) -> None:
        self.settings = settings
        # The playout-delay limits every video packet carries now (media/playout.py); None: the
        # extension is not negotiated and viewers use their own timing.
        self.playout = playout
        # The capture clock's origin (time.monotonic()) the shared encoders stamp packets from.
        self.t0 = t0
        self.video = video
        self.frames = frames
        self.audio = audio
        self.request_keyframe = request_keyframe
        self.on_input = on_input
        self.ice_servers: list[dict[str, Any]] = list(settings.ice_servers)
        self.viewers: dict[str, Viewer] = {}
        # When each connection's recent offers came (monotonic), for the per-connection limit.
        self._offers: dict[str, list[float]] = {}
        self.on_channel_open: Callable[[Viewer, str], None] | None = None
        self.plis = 0

    def _codecs(self, kind: str) -> list[Any]:
        caps = RTCRtpSender.getCapabilities(kind).codecs
        if kind == "audio":
            wanted = {"audio/opus"}
        else:
            wanted = {"video/H264" if self.settings.codec == "h264" else "video/VP8"}
        chosen = [c for c in caps if c.mimeType in wanted]
        if self.settings.codec == "h264":
            chosen = [c for c in chosen if c.parameters.get("packetization-mode") == "1"] or chosen
        if kind == "video":
            chosen += [c for c in caps if c.mimeType == "video/rtx"]
        return chosen

    def _admit_offer(self, conn: str) -> None:
        """Refuse an offer past the viewer cap (a new connection) or past the connection's offer
        rate: every offer tears down and rebuilds a peer connection."""
        s = self.settings
        if conn not in self.viewers and len(self.viewers) >= s.max_viewers:
            raise OfferRefused("too_many_viewers", f"At most {s.max_viewers} viewers")
        now = time.monotonic()
        recent = [t for t in self._offers.get(conn, []) if now - t < s.offer_rate_window_s]
        if len(recent) >= s.offer_rate_count:
            self._offers[conn] = recent
            raise OfferRefused("rate_limited", "Too many offers; wait a few seconds")
        recent.append(now)
        self._offers[conn] = recent
        if len(self._offers) > 4 * s.max_viewers:  # forget connections long gone
            self._offers = {
                c: ts
                for c, ts in self._offers.items()
                if c in self.viewers or (ts and now - ts[-1] < s.offer_rate_window_s)
            }

    async def answer(self, conn: str, user_id: str, sdp: str) -> str:
        self._admit_offer(conn)
        old = self.viewers.pop(conn, None)
        if old is not None:
            await old.close()
        pc = RTCPeerConnection(ice_config(self.ice_servers))
        viewer = Viewer(conn, user_id, pc)
        self.viewers[conn] = viewer
        try:
            return await self._negotiate(viewer, sdp)
        except BaseException:
            self.viewers.pop(conn, None)
            await viewer.close()
            raise

    async def _negotiate(self, viewer: Viewer, sdp: str) -> str:
        pc = viewer.pc
        vtrack: PacketTrack | FrameTrack
        per_viewer = self.settings.encode_mode == "per_viewer" and self.frames is not None
        if per_viewer:
            assert self.frames is not None
            vtrack = self.frames.subscribe()  # baseline: this sender encodes on its own
        else:
            vtrack = self.video.subscribe(on_need_keyframe=self.request_keyframe)
        atrack = self.audio.subscribe()
        viewer.tracks = [vtrack, atrack]
        # Pitfall: the transceivers must exist, restricted to our codecs, before the offer is
        # applied; aiortc then reuses them for the offer's m-lines.
        vt = pc.addTransceiver(vtrack, direction="sendonly")
        vt.setCodecPreferences(self._codecs("video"))
        at = pc.addTransceiver(atrack, direction="sendonly")
        at.setCodecPreferences(self._codecs("audio"))

        def on_keyframe_request() -> None:
            viewer.plis += 1
            self.plis += 1
            self.request_keyframe()  # the shared encoder rate-limits

        if not per_viewer:  # the baseline's senders encode themselves and honour PLIs
            route_keyframe_requests(vt.sender, on_keyframe_request)
            if self.t0 is not None:
                map_sender_reports(vt.sender, 90000, self.t0)
        if self.t0 is not None:
            map_sender_reports(at.sender, 48000, self.t0)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._attach_channel(viewer, channel)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            viewer.blackhole.addTrack(track)
            viewer.spawn(viewer.blackhole.start())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info(
                "viewer connection %s",
                pc.connectionState,
                extra={"conn": viewer.conn, "user": viewer.user_id},
            )
            if pc.connectionState in ("failed", "closed"):
                await self.close(viewer.conn)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if self.playout is not None:
            viewer.playout_delay = negotiate_playout_delay(vt, sdp, self.playout)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        out = pc.localDescription.sdp
        if self.settings.codec == "h264":
            level = h264_level(self.settings.width, self.settings.height, self.settings.fps)
            if level != "3.1":
                plid = profile_level_id(level)
                out = out.replace("profile-level-id=42e01f", f"profile-level-id={plid}")
                out = out.replace("profile-level-id=42001f", f"profile-level-id={plid}")
        return out

    def _attach_channel(self, viewer: Viewer, channel: RTCDataChannel) -> None:
        if channel.label == "pointer":
            viewer.pointer = channel
        elif channel.label == "input":
            viewer.input = channel
        else:
            return

        @channel.on("message")
        def on_message(data: bytes | str) -> None:
            if isinstance(data, str):
                data = data.encode()
            try:
                msg = wire.decode(data)
            except wire.WireError:
                return
            if isinstance(msg, wire.Ping):
                if channel.readyState == "open":
                    channel.send(wire.pong(msg.payload))
                return
            self.on_input(viewer, msg)

        def opened() -> None:
            if self.on_channel_open is not None:
                self.on_channel_open(viewer, channel.label)

        if channel.readyState == "open":
            opened()
        else:
            channel.on("open", opened)

    async def close(self, conn: str) -> bool:
        viewer = self.viewers.pop(conn, None)
        if viewer is None:
            return False
        await viewer.close()
        log.info("viewer closed", extra={"conn": conn, "user": viewer.user_id})
        return True

    async def reconcile(self, present: set[str]) -> list[str]:
        """Close the peers of connections no longer in the room (`present`: the control plane's
        list of its sockets), sparing peers younger than `peer_sync_grace_s`, whose offer may
        have overtaken the list. Returns the connections closed."""
        now = time.monotonic()
        grace = self.settings.peer_sync_grace_s
        stale = [
            conn
            for conn, viewer in self.viewers.items()
            if conn not in present and now - viewer.created >= grace
        ]
        for conn in stale:
            with contextlib.suppress(Exception):
                await self.close(conn)
        if stale:
            log.info("peers of departed connections closed", extra={"conns": stale})
        return stale

    async def close_all(self) -> None:
        for conn in list(self.viewers):
            with contextlib.suppress(Exception):
                await self.close(conn)
