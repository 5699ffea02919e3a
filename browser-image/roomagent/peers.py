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
from .media import quality_wire
from .media.clock import map_sender_reports
from .media.estimate import ViewerEstimate
from .media.fanout import Broadcaster, FrameBroadcaster, FrameTrack, PacketTrack
from .media.feedback import observe_feedback
from .media.keyframes import route_keyframe_requests
from .media.ladder import Rung
from .media.pacing import PACE_FACTOR, PacedTransport, pace_sender
from .media.playout import PlayoutLimits
from .media.playout_extension import negotiate_playout_delay
from .media.video import QUALITY, h264_level, profile_level_id

log = logging.getLogger("roomagent.peers")

InputHandler = Callable[["Viewer", wire.Message], None]
MAX_BUFFERED = 256 * 1024
# How often each viewer's estimate is looked at (its rung chosen, its status sent).
ADAPT_EVERY_S = 0.5
# A viewer's quality status (0x83) goes out on every change and at least this often.
STATUS_EVERY_S = 2.0
# RTP payload per packet (aiortc's packetizers stay under ~1300 bytes): packets per frame sent.
RTP_PAYLOAD = 1200


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
        # the video track fed from the ladder, its bandwidth estimate (None for the per-viewer
        # encoding baseline), and the last quality status sent (bytes, when)
        self.video: PacketTrack | None = None
        self.estimate: ViewerEstimate | None = None
        self.status: tuple[bytes, float] | None = None
        self.stats_messages = 0
        self.cuts_logged = 0
        self.pacer: PacedTransport | None = None
        # whether this viewer's video carries the playout-delay extension (its browser offered it)
        self.playout_delay = False
        self.closed = False
        self.created = time.monotonic()

    def send_pointer(self, data: bytes) -> None:
        ch = self.pointer
        if ch is not None and ch.readyState == "open" and ch.bufferedAmount < MAX_BUFFERED:
            ch.send(data)

    def send_input(self, data: bytes) -> bool:
        """Send on `input` if it is open and not backed up; whether it was sent."""
        ch = self.input
        if ch is not None and ch.readyState == "open" and ch.bufferedAmount < MAX_BUFFERED:
            ch.send(data)
            return True
        return False

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
        request_keyframe: Callable[[int], None],
        on_input: InputHandler,
        frames: FrameBroadcaster | None = None,
        t0: float | None = None,
        playout: Callable[[], PlayoutLimits] | None = None,
        ladder: list[Rung] | None = None,
    ) -> None:
        self.settings = settings
        # The encoder ladder (media/ladder.py), best rung first; each viewer is on one of them.
        self.ladder = ladder or settings.rungs()
        self._adapt_task: asyncio.Task[None] | None = None
        self.rung_switches = 0
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
            viewer.video = vtrack
            viewer.estimate = ViewerEstimate(self.ladder, time.monotonic())
            vtrack.on_delivered = _count_sent(viewer.estimate)
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
            # only this viewer's rung is asked (the encoders rate-limit, per rung)
            if isinstance(vtrack, PacketTrack):
                vtrack.need_keyframe_now()

        if not per_viewer:  # the baseline's senders encode themselves and honour PLIs
            route_keyframe_requests(vt.sender, on_keyframe_request)
            assert viewer.estimate is not None
            observe_feedback(vt.sender, viewer.estimate)
            if self.settings.pacing:
                viewer.pacer = pace_sender(
                    vt.sender, lambda: self._pace_kbps(viewer), lambda: self._rung_fps(viewer)
                )
            self._start_adapting()
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
            if channel.label == "input" and data[:1] and data[0] in quality_wire.OPCODES:
                self._on_quality(viewer, data)
                return
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
            if channel.label == "input":
                self.send_status(viewer, force=True)
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
        if self._adapt_task is not None:
            self._adapt_task.cancel()
            self._adapt_task = None
        for conn in list(self.viewers):
            with contextlib.suppress(Exception):
                await self.close(conn)

    # per-viewer quality ---------------------------------------------------------------------------
    def _on_quality(self, viewer: Viewer, data: bytes) -> None:
        """A quality cap or receiver stats (docs/protocol.md): from any viewer, about itself."""
        est = viewer.estimate
        if est is None:
            return
        if data[0] == quality_wire.QUALITY_CAP:
            cap = quality_wire.decode_cap(data)
            if cap is None:
                return
            est.set_cap(cap)
            log.info(
                "viewer quality cap",
                extra={"conn": viewer.conn, "user": viewer.user_id, "max_height": cap},
            )
            self.adapt(viewer, time.monotonic())
        else:
            stats = quality_wire.decode_stats(data)
            if stats is None:
                return
            viewer.stats_messages += 1
            est.on_viewer_stats(time.monotonic(), stats)

    def _start_adapting(self) -> None:
        if self._adapt_task is None or self._adapt_task.done():
            self._adapt_task = asyncio.create_task(self._adapt_loop(), name="adapt")

    async def _adapt_loop(self) -> None:
        while True:
            await asyncio.sleep(ADAPT_EVERY_S)
            now = time.monotonic()
            for viewer in list(self.viewers.values()):
                try:
                    self.adapt(viewer, now)
                except Exception:
                    log.exception("adapting a viewer failed", extra={"conn": viewer.conn})

    def adapt(self, viewer: Viewer, now: float) -> None:
        """Look at one viewer's estimate: move it to the rung it should be on (at that rung's
        next keyframe) and tell it its quality."""
        est, track = viewer.estimate, viewer.video
        if est is None or track is None or viewer.closed:
            return
        before = track.rung if track.target is None else track.target
        rung = est.tick(now)
        if est.cuts != viewer.cuts_logged:
            # cuts come with the viewer's reports (between two ticks): logged here, once each
            viewer.cuts_logged = est.cuts
            log.info(
                "viewer estimate cut",
                extra={
                    "conn": viewer.conn,
                    "user": viewer.user_id,
                    "estimate_kbps": round(est.estimate_kbps),
                    "sent_kbps": round(est.sent_kbps),
                    "received_kbps": round(est.received_kbps or 0),
                    "remb_kbps": round(est.remb_kbps or 0),
                    "loss": round(est.loss, 3),
                    "cut_by": est.cut_reason,
                },
            )
        if rung != before:
            self.rung_switches += 1
            log.info(
                "viewer moves rung",
                extra={
                    "conn": viewer.conn,
                    "user": viewer.user_id,
                    "from": self.ladder[before].height,
                    "to": self.ladder[rung].height,
                    "estimate_kbps": round(est.estimate_kbps),
                    "loss": round(est.loss, 3),
                    "cut_by": est.cut_reason,
                },
            )
            # Up to a rung other viewers watch: its next periodic keyframe takes this viewer
            # there (within keyframe_interval_s); asking for one now would send them an extra
            # keyframe for nothing. Down (the link cannot carry the rung now) or to a rung only
            # this viewer will watch: a keyframe at once.
            others = self.video.viewers_per_rung().get(rung, 0) if self.video else 0
            track.move_to(rung, ask_keyframe=not (rung < track.rung and others > 0))
        self.send_status(viewer)

    def _pace_kbps(self, viewer: Viewer) -> float:
        """The rate a viewer's video leaves at: a margin over its estimate, and never below
        the bitrate its rung's encoder really makes (the rung's bitrate times WP_QUALITY's
        factor): paced slower than it is made, its queue would only grow, overflow and ask for
        keyframes that leave too slowly again."""
        est, track = viewer.estimate, viewer.video
        if est is None or track is None:
            return 0.0
        made = self.ladder[track.rung].kbps * QUALITY[self.settings.quality][2]
        return PACE_FACTOR * max(est.estimate_kbps, made)

    def _rung_fps(self, viewer: Viewer) -> int:
        track = viewer.video
        return self.settings.fps if track is None else self.ladder[track.rung].fps

    def send_status(self, viewer: Viewer, *, force: bool = False) -> None:
        """The viewer's quality status (0x83): on a change, else at most every STATUS_EVERY_S."""
        est, track = viewer.estimate, viewer.video
        if est is None or track is None:
            return
        rung = self.ladder[track.rung]
        msg = quality_wire.encode_status(
            rung.width, rung.height, rung.fps, est.flags, est.estimate_kbps, est.max_height
        )
        now = time.monotonic()
        last = viewer.status
        if not force and last is not None:
            # the estimate changes all the time: only rung and flags make a change
            if last[0][:7] == msg[:7] and last[0][11:] == msg[11:]:
                if now - last[1] < STATUS_EVERY_S:
                    return
        # Recorded only once it went out: a status skipped (channel not open yet, or backed up)
        # is tried again on the next call, not held back as "already said" for STATUS_EVERY_S.
        if viewer.send_input(msg):
            viewer.status = (msg, now)

    def viewer_stats(self) -> list[dict[str, Any]]:
        """Each viewer's rung and estimate (heartbeats, /metrics)."""
        out: list[dict[str, Any]] = []
        for viewer in self.viewers.values():
            est, track = viewer.estimate, viewer.video
            if est is None or track is None:
                continue
            out.append(
                {
                    "conn": viewer.conn,
                    "user": viewer.user_id,
                    "rung": self.ladder[track.rung].height,
                    "estimate_kbps": round(est.estimate_kbps),
                    "sent_kbps": round(est.sent_kbps),
                    "loss": round(est.loss, 3),
                    "rtt_ms": None if est.rtt_s is None else round(est.rtt_s * 1000, 1),
                    "remb_kbps": None if est.remb_kbps is None else round(est.remb_kbps),
                    "nacks": est.nacks,
                    "cuts": est.cuts,
                    "cut_by": est.cut_reason,
                    "plis": viewer.plis,
                    "switches": track.switches,
                    "flags": est.flags,
                    "paced_packets": viewer.pacer.paced if viewer.pacer is not None else 0,
                    "max_height": est.max_height,
                }
            )
        return out


def _count_sent(estimate: ViewerEstimate) -> Callable[[Any], None]:
    def sent(packet: Any) -> None:
        size = int(packet.size)
        estimate.on_sent(time.monotonic(), size, max(1, -(-size // RTP_PAYLOAD)))

    return sent
