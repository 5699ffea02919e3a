"""The room agent: wires launcher, media, peers, input, cursor, CDP and the control channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psutil

from .cdp import Browser
from .config import AgentSettings
from .control import ControlClient
from .cursor import CursorWatcher
from .input import wire
from .input.xinject import BUTTONS, Injector
from .launcher import Launcher
from .media.audio import AudioPipeline
from .media.fanout import Broadcaster, FrameBroadcaster
from .media.video import VideoPipeline
from .peers import PeerManager, Viewer

log = logging.getLogger("roomagent")

VIDEO_QUEUE = 4
AUDIO_QUEUE = 8
WHEEL_FLUSH_S = 0.05


class FatalError(RuntimeError):
    pass


class Agent:
    def __init__(self, settings: AgentSettings) -> None:
        self.s = settings
        self.launcher: Launcher | None = None
        self.display = settings.display or ""
        self.pulse_server = settings.pulse_server
        self.cdp_port = settings.cdp_port
        self.t0 = time.monotonic()
        self.video_bc = Broadcaster("video", VIDEO_QUEUE)
        self.audio_bc = Broadcaster("audio", AUDIO_QUEUE)
        self.frames_bc = FrameBroadcaster()
        self.video: VideoPipeline | None = None
        self.audio: AudioPipeline | None = None
        self.injector: Injector | None = None
        self.cursor: CursorWatcher | None = None
        self.browser: Browser | None = None
        self.control: ControlClient | None = None
        self.peers: PeerManager | None = None
        self.holder_id: str | None = None
        self.dropped_input = 0
        self.applied_input = 0
        self.is_ready = False
        self.stage: str | None = None
        # A warm-pool browser waiting to be handed to a room (learnt from `auth.ok`).
        self.pooled = False
        self.ice_servers: list[dict[str, Any]] | None = None
        self.components_ready = asyncio.Event()
        self._stats_prev: tuple[float, int, float, float, float, int] | None = None
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    # lifecycle --------------------------------------------------------------------------------
    async def run(self) -> None:
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self._start(tasks)
            watch: list[asyncio.Future[Any]] = list(tasks)
            assert self.video is not None and self.browser is not None
            watch += [self.video.done, self.browser.closed]
            if self.audio is not None:
                watch.append(self.audio.done)
            if self.launcher is not None:
                watch.append(asyncio.ensure_future(self.launcher.wait_any_exit()))
            done, _ = await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            first = next(iter(done))
            reason = "component stopped"
            if not first.cancelled() and first.exception() is not None:
                reason = repr(first.exception())
            elif not first.cancelled() and first.result() is not None:
                reason = f"{getattr(first.result(), 'name', first.result())} exited"
            raise FatalError(reason)
        finally:
            for t in tasks:
                t.cancel()
            # finish cleaning up even if we are cancelled again meanwhile
            cleanup = asyncio.ensure_future(self.shutdown())
            try:
                await asyncio.shield(cleanup)
            except asyncio.CancelledError:
                await cleanup
                raise

    async def _start(self, tasks: list[asyncio.Task[Any]]) -> None:
        s = self.s
        self.control = ControlClient(
            s.control_url, s.room_id, s.agent_secret, self.handle, self._on_control_up
        )
        tasks.append(asyncio.create_task(self.control.run(), name="control"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.control.connected.wait(), 2)
        await self._set_stage("booting")
        if not s.display:
            self.launcher = Launcher(s)
            launched = await self.launcher.start()
            self.display = launched.display
            self.pulse_server = launched.pulse_server
            self.cdp_port = launched.cdp_port
            log.info("launched room browser", extra={"display": self.display})
        self.video = VideoPipeline(s, self.display, self.video_bc, self.t0, self.frames_bc)
        self.injector = Injector(self.display, s.width, s.height)
        self.peers = PeerManager(
            s,
            self.video_bc,
            self.audio_bc,
            self.video.request_keyframe,
            self.on_input,
            self.frames_bc,
        )
        self.peers.on_channel_open = self._on_channel_open
        if self.ice_servers is not None:
            self.peers.ice_servers = list(self.ice_servers)
        self.video.start()
        if s.audio:
            self.audio = AudioPipeline(s, self.pulse_server, self.audio_bc, self.t0)
            await self.audio.start()
        self.cursor = CursorWatcher(
            self.display, s.width, s.height, self._broadcast_pointer, self._broadcast_input
        )
        self.cursor.start()
        self.browser = Browser(self.cdp_port, self._on_status)
        await self.browser.connect()
        self.components_ready.set()
        await self.browser.wait_loaded(blank_ok=s.start_url == "about:blank")
        await self._set_stage("browser_ready")
        await asyncio.wait_for(asyncio.shield(self.video.first_packet), 20)
        self.is_ready = True
        await self._send("ready", self._ready_data())
        log.info("room ready", extra=self._ready_data())
        tasks.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))
        tasks.append(asyncio.create_task(self._wheel_loop(), name="wheel"))

    async def shutdown(self) -> None:
        steps: list[Any] = []
        if self.peers is not None:
            steps.append(self.peers.close_all())
        if self.cursor is not None:
            steps.append(self.cursor.stop())
        if self.browser is not None:
            steps.append(self.browser.close())
        if self.audio is not None:
            steps.append(self.audio.stop())
        if self.video is not None:
            steps.append(self.video.stop())
        for step in steps:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(step, 5)
        if self.injector is not None:
            with contextlib.suppress(Exception):
                self.injector.close()
        if self.launcher is not None:
            await self.launcher.stop()

    # control channel ----------------------------------------------------------------------------
    def _ready_data(self) -> dict[str, Any]:
        return {
            "width": self.s.width,
            "height": self.s.height,
            "fps": self.s.fps,
            "codec": self.s.codec,
        }

    async def _send(self, type_: str, data: dict[str, Any]) -> None:
        if self.control is not None:
            await self.control.send(type_, data)

    async def _set_stage(self, stage: str) -> None:
        self.stage = stage
        await self._send("stage", {"stage": stage})

    async def _on_control_up(self, data: dict[str, Any]) -> None:
        if data.get("pooled"):
            self.pooled = True
        elif self.pooled:
            # Handed to a room while we were reconnecting: the `room.assigned` was missed.
            assert self.control is not None
            self.control.spawn(self._assign(data), "assign")
        if self.stage is not None and not self.is_ready:
            await self._send("stage", {"stage": self.stage})
        if data.get("ice_servers") is not None:
            self.ice_servers = list(data["ice_servers"])
            if self.peers is not None:
                self.peers.ice_servers = list(self.ice_servers)
        self._set_holder(data.get("holder_id"))
        if self.is_ready:
            await self._send("ready", self._ready_data())
        if self.browser is not None and self.browser.status:
            await self._send("browser.status", dict(self.browser.status))

    async def _on_status(self, status: dict[str, Any]) -> None:
        await self._send("browser.status", status)

    async def handle(self, type_: str, data: dict[str, Any]) -> None:
        await self.components_ready.wait()
        assert self.peers is not None and self.injector is not None
        inj = self.injector
        if type_ == "rtc.offer":
            conn, user = str(data["conn"]), str(data["from"])
            try:
                sdp = await self.peers.answer(conn, user, str(data["sdp"]))
            except Exception as e:
                log.exception("offer failed", extra={"conn": conn})
                await self._send("error", {"code": "bad_offer", "message": str(e), "conn": conn})
                return
            await self._send("rtc.answer", {"to": user, "conn": conn, "sdp": sdp})
        elif type_ == "peer.closed":
            await self.peers.close(str(data["conn"]))
        elif type_ == "remote.changed":
            self._set_holder(data.get("holder_id"))
        elif type_ == "room.assigned":
            await self._assign(data)
        elif type_ == "ice_servers":
            self.peers.ice_servers = list(data.get("ice_servers") or [])
        elif type_.startswith("browser."):
            await self._browser_command(type_, data, inj)
        else:
            await self._send("error", {"code": "unknown_type", "message": type_})

    async def _browser_command(self, type_: str, data: dict[str, Any], inj: Injector) -> None:
        assert self.browser is not None
        if self.video is not None and type_ != "browser.mouse_move":
            self.video.boost()
        if type_ == "browser.navigate":
            url = str(data["url"])
            if not url.startswith(("http://", "https://")):
                raise ValueError("only http(s) URLs")
            await self.browser.navigate(url)
        elif type_ == "browser.back":
            await self.browser.go(-1)
        elif type_ == "browser.forward":
            await self.browser.go(1)
        elif type_ == "browser.reload":
            await self.browser.reload()
        elif type_ == "browser.mouse_move":
            inj.move(float(data["x"]), float(data["y"]))
        elif type_ == "browser.click":
            inj.click(
                float(data["x"]), float(data["y"]), BUTTONS.get(data.get("button", "left"), 1)
            )
        elif type_ == "browser.scroll":
            inj.wheel(
                float(data.get("dx", 0)),
                float(data.get("dy", 0)),
                float(data["x"]),
                float(data["y"]),
            )
        elif type_ == "browser.keypress":
            mods = [m for m in data.get("modifiers", []) if m in wire.MOD_BITS]
            inj.keypress(str(data["key"]), str(data.get("code", "")), mods)
        else:
            await self._send("error", {"code": "unknown_type", "message": type_})

    async def _assign(self, data: dict[str, Any]) -> None:
        """This warm browser is a room's now: nothing of its wait may reach the room."""
        if not self.pooled:
            return
        self.pooled = False
        await self.components_ready.wait()
        assert self.browser is not None
        self._set_holder(data.get("holder_id"))
        await self.browser.wipe()
        url = str(data.get("start_url") or "")
        await self.browser.open_as_first(url if url.startswith(("http://", "https://")) else None)
        log.info("assigned to a room", extra={"start_url": url or None})

    def _set_holder(self, holder: Any) -> None:
        holder = None if holder is None else str(holder)
        if self.injector is not None:
            self.injector.release_all()
        if holder != self.holder_id:
            log.info("remote holder changed", extra={"holder": holder})
        self.holder_id = holder

    # input and cursor -------------------------------------------------------------------------
    def on_input(self, viewer: Viewer, msg: wire.Message) -> None:
        inj = self.injector
        if inj is None or self.holder_id is None or viewer.user_id != self.holder_id:
            self.dropped_input += 1
            return
        self.applied_input += 1
        if self.video is not None and not isinstance(msg, wire.Move):
            self.video.boost()
        if isinstance(msg, wire.Move):
            inj.move(msg.x, msg.y)
        elif isinstance(msg, wire.Button):
            inj.button(msg.button, msg.down, msg.x, msg.y)
        elif isinstance(msg, wire.Wheel):
            inj.wheel(msg.dx, msg.dy, msg.x, msg.y)
        elif isinstance(msg, wire.Key):
            inj.key(msg.key, msg.code, msg.mods, msg.down)
        elif isinstance(msg, wire.Text):
            inj.type_text(msg.text)
        elif isinstance(msg, wire.ReleaseAll):
            inj.release_all()

    def _broadcast_pointer(self, data: bytes) -> None:
        if self.peers is not None:
            for v in list(self.peers.viewers.values()):
                v.send_pointer(data)

    def _broadcast_input(self, data: bytes) -> None:
        if self.peers is not None:
            for v in list(self.peers.viewers.values()):
                v.send_input(data)

    def _on_channel_open(self, viewer: Viewer, label: str) -> None:
        if self.cursor is None:
            return
        if label == "input" and self.cursor.shape_msg is not None:
            viewer.send_input(self.cursor.shape_msg)
        if label == "pointer" and self.cursor.pos_msg is not None:
            viewer.send_pointer(self.cursor.pos_msg)

    async def _wheel_loop(self) -> None:
        while True:
            await asyncio.sleep(WHEEL_FLUSH_S)
            if self.injector is not None:
                self.injector.flush_wheel()

    # stats ----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        assert self.video is not None and self.peers is not None
        now = time.monotonic()
        v = self.video
        cur = (
            now,
            v.frames_encoded,
            v.encode_seconds,
            v.capture_seconds,
            v.cpu_seconds,
            self.video_bc.bytes,
        )
        prev = self._stats_prev or (self.t0, 0, 0.0, 0.0, 0.0, 0)
        self._stats_prev = cur
        dt = max(1e-6, cur[0] - prev[0])
        frames = cur[1] - prev[1]

        def per_frame_ms(i: int) -> float:
            return round(1000 * (cur[i] - prev[i]) / frames, 2) if frames else 0.0

        cpu = self._proc.cpu_percent(None)
        return {
            "viewers": len(self.peers.viewers),
            "fps": round(frames / dt, 1),
            "encode_ms": per_frame_ms(2),
            "bitrate_kbps": round((cur[5] - prev[5]) * 8 / dt / 1000, 1),
            "dropped_frames": self.video_bc.dropped(),
            "dropped_input": self.dropped_input,
            "cpu_percent": round(cpu, 1),
            "rss_mb": round(self._proc.memory_info().rss / 1e6, 1),
            # extension: grab + bgr0->yuv420p conversion, and the capture thread's CPU per frame
            "capture_ms": per_frame_ms(3),
            "capture_cpu_ms": per_frame_ms(4),
            # counters (extension): let tests and the control plane verify "encode once"
            "frames_encoded": v.frames_encoded,
            "ticks_skipped": v.ticks_skipped,
            "boosted_frames": v.boosted_frames,
            "keyframes": v.keyframes,
            "keyframe_requests": v.keyframe_requests,
            "packets_delivered": sum(t.delivered for t in self.video_bc.tracks),
            "applied_input": self.applied_input,
            "audio_frames": self.audio.frames_encoded if self.audio is not None else 0,
            "audio_packets": self.audio_bc.packets,
        }

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.s.heartbeat_s)
            await self._send("heartbeat", self.stats())
