"""The room agent: wires launcher, media, peers, input, cursor, CDP and the control channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psutil

from .cdp import Browser, CdpError
from .config import AgentSettings
from .control import ControlClient
from .cursor import CursorWatcher
from .input import wire
from .input.path import FALLBACK_TYPES, InputPath, from_json
from .input.xinject import Injector
from .launcher import Launcher
from .media.audio import AudioPipeline
from .media.fanout import Broadcaster, FrameBroadcaster
from .media.ladder import rung_names
from .media.playout import IMMEDIATE, PlayoutPolicy
from .media.video import VideoPipeline
from .peers import OfferRefused, PeerManager, Viewer
from .player.policy import BadCommand, parse_command
from .player.watcher import MediaWatcher

log = logging.getLogger("roomagent")

# Encoded frames a viewer's track holds: a keyframe paced out at a weak viewer's rate takes a few
# frame intervals, and the frames behind it must not overflow into a keyframe request meanwhile.
VIDEO_QUEUE = 8
AUDIO_QUEUE = 8
WHEEL_FLUSH_S = 0.05


class FatalError(RuntimeError):
    pass


@dataclass
class Components:
    """Everything the room runs on, built together once the browser can start. `audio` is None
    only when the agent runs without sound (WP_AUDIO=false)."""

    video: VideoPipeline
    injector: Injector
    input: InputPath
    peers: PeerManager
    cursor: CursorWatcher
    browser: Browser
    audio: AudioPipeline | None
    playout: PlayoutPolicy
    player: MediaWatcher


Handler = Callable[[Components, dict[str, Any]], Awaitable[None]]

# Stopped in this order on shutdown (viewers first, the browser's processes last).
SHUTDOWN_ORDER = ("peers", "cursor", "player", "browser", "audio", "video", "injector", "launcher")


class Agent:
    def __init__(self, settings: AgentSettings) -> None:
        self.s = settings
        self.t0 = time.monotonic()
        self.video_bc = Broadcaster("video", VIDEO_QUEUE)
        self.audio_bc = Broadcaster("audio", AUDIO_QUEUE)
        self.frames_bc = FrameBroadcaster()
        self.control = ControlClient(
            settings.control_url,
            settings.room_id,
            settings.agent_secret,
            self.handle,
            self._on_control_up,
            give_up_after_s=settings.control_lost_s,
        )
        # Set once, when every component runs; control messages wait for it.
        self.parts: asyncio.Future[Components] = asyncio.get_running_loop().create_future()
        # How each started component is stopped (by name, see SHUTDOWN_ORDER).
        self._stops: dict[str, Callable[[], Awaitable[None] | None]] = {}
        self.holder_id: str | None = None
        self.is_ready = False
        self.stage: str | None = None
        # A warm-pool browser waiting to be handed to a room (learnt from `auth.ok`).
        self.pooled = False
        self.ice_servers: list[dict[str, Any]] | None = None
        # How the room browser's managed policy is applied (launcher.Launched.policy); "" when
        # the agent did not launch the browser (WP_DISPLAY).
        self.browser_policy = ""
        self._handlers: dict[str, Handler] = {
            "rtc.offer": self._rtc_offer,
            "peer.closed": self._peer_closed,
            "peers.sync": self._peers_sync,
            "remote.changed": self._remote_changed,
            "room.assigned": self._room_assigned,
            "ice_servers": self._ice_servers,
            "browser.navigate": self._navigate,
            "browser.back": self._history(-1),
            "browser.forward": self._history(1),
            "browser.reload": self._reload,
            "media.cmd": self._media_cmd,
            **{type_: self._input_fallback(type_) for type_ in FALLBACK_TYPES},
        }
        self._stats_prev: tuple[float, int, float, float, float, int] | None = None
        self._rung_cpu_prev: dict[int, tuple[float, float, int]] = {}
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    # lifecycle --------------------------------------------------------------------------------
    async def run(self) -> None:
        tasks: list[asyncio.Task[Any]] = []
        try:
            parts, launcher = await self._start(tasks)
            watch: list[asyncio.Future[Any]] = [*tasks, parts.video.done, parts.browser.closed]
            if parts.audio is not None:
                watch.append(parts.audio.done)
            if launcher is not None:
                watch.append(asyncio.ensure_future(launcher.wait_any_exit()))
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

    async def _start(self, tasks: list[asyncio.Task[Any]]) -> tuple[Components, Launcher | None]:
        """Start every component, each registered for shutdown as soon as it runs, then publish
        them together (`self.parts`) and report the stages up to `ready`."""
        s = self.s
        tasks.append(asyncio.create_task(self.control.run(), name="control"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.control.connected.wait(), 2)
        await self._set_stage("booting")
        display, pulse_server, cdp_port = s.display or "", s.pulse_server, s.cdp_port
        launcher: Launcher | None = None
        if not s.display:
            launcher = Launcher(s)
            self._stops["launcher"] = launcher.stop
            launched = await launcher.start()
            display, pulse_server, cdp_port = (
                launched.display,
                launched.pulse_server,
                launched.cdp_port,
            )
            self.browser_policy = launched.policy
            await self._report_policy()
            log.info("launched room browser", extra={"display": display})
        ladder = s.rungs()
        video = VideoPipeline(s, display, self.video_bc, self.t0, self.frames_bc, ladder)
        injector = Injector(display, s.width, s.height)
        self._stops["injector"] = injector.close
        input_path = InputPath(injector, boost=video.boost, holder_id=self.holder_id)

        def on_input(viewer: Viewer, msg: wire.Message) -> None:
            input_path.submit(msg, sender=viewer.user_id)

        playout = PlayoutPolicy(s.video_playout, s.sync_hold_s)
        peers = PeerManager(
            s,
            self.video_bc,
            self.audio_bc,
            video.request_keyframe,
            on_input,
            self.frames_bc,
            t0=self.t0,
            playout=lambda: playout.limits(time.monotonic()),
            ladder=ladder,
        )
        self._stops["peers"] = peers.close_all
        if self.ice_servers is not None:
            peers.ice_servers = list(self.ice_servers)
        video.start()
        self._stops["video"] = video.stop
        audio: AudioPipeline | None = None
        if s.audio:
            audio = AudioPipeline(s, pulse_server, self.audio_bc, self.t0, playout.heard)
            self._stops["audio"] = audio.stop
            await audio.start()
        cursor = CursorWatcher(
            display,
            s.width,
            s.height,
            lambda data: _to_viewers(peers, data, pointer=True),
            lambda data: _to_viewers(peers, data, pointer=False),
        )
        peers.on_channel_open = lambda viewer, label: _cursor_to(cursor, viewer, label)
        cursor.start()
        self._stops["cursor"] = cursor.stop
        self._watch_viewers(video, audio, cursor)
        browser = Browser(cdp_port, self._on_status)
        self._stops["browser"] = browser.close
        await browser.connect()
        player = MediaWatcher(browser, self._on_media_state, self._on_media_ended, s.media_poll_s)
        self._stops["player"] = player.stop
        parts = Components(
            video, injector, input_path, peers, cursor, browser, audio, playout, player
        )
        self.parts.set_result(parts)
        await browser.wait_loaded(blank_ok=s.start_url == "about:blank")
        # The start page's status goes out before `browser_ready` and `ready`, whatever the order
        # of CDP events was (a viewer's first state then always names the page it sees).
        with contextlib.suppress(CdpError, TimeoutError):
            await browser.report_now()
        await self._set_stage("browser_ready")
        await asyncio.wait_for(asyncio.shield(video.first_packet), 20)
        self.is_ready = True
        await self._send("ready", self._ready_data())
        log.info("room ready", extra=self._ready_data())
        # The page's media is reported from `ready` on (its first state follows at once).
        player.start()
        tasks.append(asyncio.create_task(self._heartbeat_loop(parts), name="heartbeat"))
        tasks.append(asyncio.create_task(self._wheel_loop(injector), name="wheel"))
        return parts, launcher

    def _watch_viewers(
        self, video: VideoPipeline, audio: AudioPipeline | None, cursor: CursorWatcher
    ) -> None:
        """Media work only while someone watches: the capture thread sleeps as soon as the last
        viewer leaves (and wakes for the next at once); sound capture and the cursor watcher stop
        `idle_grace_s` later (a reload or reconnect does not restart them) and start again with
        the next viewer, whose WebRTC set-up takes longer than their start."""
        grace: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()

        def idle() -> None:
            nonlocal grace
            grace = None
            if self.video_bc.tracks or self.audio_bc.tracks or self.frames_bc.tracks:
                return
            log.info("nobody watching: media work stopped")
            cursor.set_active(False)
            if audio is not None:
                self.control.spawn(audio.pause(), "audio-pause")

        def changed() -> None:
            nonlocal grace
            video.wake()
            watched = bool(self.video_bc.tracks or self.audio_bc.tracks or self.frames_bc.tracks)
            if watched:
                if grace is not None:
                    grace.cancel()
                    grace = None
                cursor.set_active(True)
                if audio is not None and not audio.running:
                    self.control.spawn(audio.resume(), "audio-resume")
            elif grace is None:
                grace = loop.call_later(self.s.idle_grace_s, idle)

        self.video_bc.on_change.append(changed)
        self.audio_bc.on_change.append(changed)
        changed()  # nobody yet: arm the grace period

    async def shutdown(self) -> None:
        for name in SHUTDOWN_ORDER:
            stop = self._stops.pop(name, None)
            if stop is None:
                continue
            with contextlib.suppress(Exception):
                result = stop()
                if result is not None:
                    await asyncio.wait_for(result, 5 if name != "launcher" else None)

    # control channel ----------------------------------------------------------------------------
    def _ready_data(self) -> dict[str, Any]:
        return {
            "width": self.s.width,
            "height": self.s.height,
            "fps": self.s.fps,
            "codec": self.s.codec,
        }

    async def _send(self, type_: str, data: dict[str, Any]) -> None:
        await self.control.send(type_, data)

    async def _set_stage(self, stage: str) -> None:
        self.stage = stage
        await self._send("stage", {"stage": stage})

    async def _on_control_up(self, data: dict[str, Any]) -> None:
        if data.get("pooled"):
            self.pooled = True
        elif self.pooled:
            # Handed to a room while we were reconnecting: the `room.assigned` was missed.
            self.control.spawn(self._assign(data), "assign")
        if self.stage is not None and not self.is_ready:
            await self._send("stage", {"stage": self.stage})
        await self._report_policy()
        if data.get("ice_servers") is not None:
            self.ice_servers = list(data["ice_servers"])
            if self.parts.done():
                self.parts.result().peers.ice_servers = list(self.ice_servers)
        self._set_holder(data.get("holder_id"))
        if data.get("conns") is not None and self.parts.done():
            # Reconnected: the peers of sockets that left meanwhile (their `peer.closed` went
            # nowhere) are dropped now.
            await self.parts.result().peers.reconcile({str(c) for c in data["conns"]})
        if self.is_ready:
            await self._send("ready", self._ready_data())
        if self.parts.done() and self.parts.result().browser.status:
            await self._send("browser.status", dict(self.parts.result().browser.status))
        if self.parts.done() and self.parts.result().player.last_state is not None:
            await self._send("media.state", self.parts.result().player.last_state or {})

    async def _report_policy(self) -> None:
        """A browser without its managed policy is said on every connect, never only logged."""
        if self.browser_policy.startswith("unavailable"):
            await self._send(
                "error", {"code": "browser_policy_unavailable", "message": self.browser_policy}
            )

    async def _on_status(self, status: dict[str, Any]) -> None:
        await self._send("browser.status", status)

    async def _on_media_state(self, state: dict[str, Any]) -> None:
        await self._send("media.state", state)

    async def _on_media_ended(self, url: str) -> None:
        await self._send("media.ended", {"url": url})

    async def handle(self, type_: str, data: dict[str, Any]) -> None:
        """A control-plane message (docs/protocol.md, "Control plane → agent"), once every
        component runs."""
        parts = await self.parts
        handler = self._handlers.get(type_)
        if handler is None:
            await self._send("error", {"code": "unknown_type", "message": type_})
            return
        await handler(parts, data)

    async def _rtc_offer(self, parts: Components, data: dict[str, Any]) -> None:
        conn, user = str(data["conn"]), str(data["from"])
        try:
            sdp = await parts.peers.answer(conn, user, str(data["sdp"]))
        except OfferRefused as e:
            log.warning("offer refused", extra={"conn": conn, "code": e.code})
            await self._send("error", {"code": e.code, "message": str(e), "conn": conn})
            return
        except Exception as e:
            log.exception("offer failed", extra={"conn": conn})
            await self._send("error", {"code": "bad_offer", "message": str(e), "conn": conn})
            return
        await self._send("rtc.answer", {"to": user, "conn": conn, "sdp": sdp})

    async def _peer_closed(self, parts: Components, data: dict[str, Any]) -> None:
        await parts.peers.close(str(data["conn"]))

    async def _peers_sync(self, parts: Components, data: dict[str, Any]) -> None:
        await parts.peers.reconcile({str(c) for c in data.get("conns") or []})

    async def _remote_changed(self, parts: Components, data: dict[str, Any]) -> None:
        self._set_holder(data.get("holder_id"))

    async def _room_assigned(self, parts: Components, data: dict[str, Any]) -> None:
        await self._assign(data)

    async def _ice_servers(self, parts: Components, data: dict[str, Any]) -> None:
        parts.peers.ice_servers = list(data.get("ice_servers") or [])

    async def _navigate(self, parts: Components, data: dict[str, Any]) -> None:
        parts.video.boost()
        url = str(data["url"])
        if not url.startswith(("http://", "https://")):
            raise ValueError("only http(s) URLs")
        await parts.browser.navigate(url)

    async def _media_cmd(self, parts: Components, data: dict[str, Any]) -> None:
        """Play, pause, seek, seek by, rate: on the page's main media element; its next
        `media.state` shows the result, `error {code: "no_media"}` says there is none."""
        try:
            action, value = parse_command(data)
        except BadCommand as e:
            await self._send("error", {"code": "bad_message", "message": str(e)})
            return
        if not await parts.player.command(action, value):
            await self._send(
                "error", {"code": "no_media", "message": "the page has no main media element"}
            )

    def _history(self, delta: int) -> Handler:
        async def go(parts: Components, data: dict[str, Any]) -> None:
            parts.video.boost()
            await parts.browser.go(delta)

        return go

    async def _reload(self, parts: Components, data: dict[str, Any]) -> None:
        parts.video.boost()
        await parts.browser.reload()

    def _input_fallback(self, type_: str) -> Handler:
        """The JSON input fallback, converted into the data channel's actions and applied by
        the one input path (the hub forwards it for the holder only)."""

        async def submit(parts: Components, data: dict[str, Any]) -> None:
            for action in from_json(type_, data):
                parts.input.submit(action, sender=None)

        return submit

    async def _assign(self, data: dict[str, Any]) -> None:
        """This warm browser is a room's now: nothing of its wait may reach the room."""
        if not self.pooled:
            return
        self.pooled = False
        parts = await self.parts
        self._set_holder(data.get("holder_id"))
        await parts.browser.wipe()
        url = str(data.get("start_url") or "")
        await parts.browser.open_as_first(url if url.startswith(("http://", "https://")) else None)
        log.info("assigned to a room", extra={"start_url": url or None})

    def _set_holder(self, holder: Any) -> None:
        holder = None if holder is None else str(holder)
        if holder != self.holder_id:
            log.info("remote holder changed", extra={"holder": holder})
        self.holder_id = holder
        if self.parts.done():
            self.parts.result().input.set_holder(holder)

    async def _wheel_loop(self, injector: Injector) -> None:
        while True:
            await asyncio.sleep(WHEEL_FLUSH_S)
            injector.flush_wheel()

    # stats ----------------------------------------------------------------------------------------
    def stats(self, parts: Components) -> dict[str, Any]:
        now = time.monotonic()
        v = parts.video
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
            "viewers": len(parts.peers.viewers),
            "fps": round(frames / dt, 1),
            "encode_ms": per_frame_ms(2),
            "bitrate_kbps": round((cur[5] - prev[5]) * 8 / dt / 1000, 1),
            "dropped_frames": self.video_bc.dropped(),
            "dropped_input": parts.input.dropped,
            "cpu_percent": round(cpu, 1),
            "rss_mb": round(self._proc.memory_info().rss / 1e6, 1),
            # extension: grab + bgr0->yuv420p conversion, and the capture thread's CPU per frame
            "capture_ms": per_frame_ms(3),
            "capture_cpu_ms": per_frame_ms(4),
            # counters (extension): let tests and the control plane verify "encode once"
            "frames_encoded": v.frames_encoded,
            "grabs": v.grabs,
            "repeats": v.repeats,
            "damage_driven": v.damage_driven,
            "damage_events": v.damage_events,
            "cursor_polls": parts.cursor.polls,
            "audio_running": parts.audio.running if parts.audio is not None else False,
            "audio_starts": parts.audio.starts if parts.audio is not None else 0,
            # lip-sync stages (extension): the sink's render-ahead, the latest chunk read
            "audio_sink_ahead_ms": round(1000 * parts.audio.sink_ahead, 1) if parts.audio else 0,
            "audio_max_read_lag_ms": (
                round(1000 * parts.audio.max_read_lag, 1) if parts.audio else 0
            ),
            # lip sync vs show-at-once (extension, media/playout.py): what the video carries now,
            # how often it changed, how many viewers' browsers take it
            "video_playout": (
                "immediate" if parts.playout.limits(time.monotonic()) == IMMEDIATE else "synced"
            ),
            "playout_switches": parts.playout.switches,
            "playout_delay_viewers": sum(
                1 for viewer in parts.peers.viewers.values() if viewer.playout_delay
            ),
            "ticks_skipped": v.ticks_skipped,
            "boosted_frames": v.boosted_frames,
            "keyframes": v.keyframes,
            "keyframe_requests": v.keyframe_requests,
            "packets_delivered": sum(t.delivered for t in self.video_bc.tracks),
            # the encoder ladder (extension, issue 18): per rung, and each viewer's estimate
            "rungs": self._rung_stats(parts, dt),
            "rung_switches": parts.peers.rung_switches,
            "viewer_quality": parts.peers.viewer_stats(),
            "applied_input": parts.input.applied,
            # the room browser's guard (extension): the key policy's drops, windows reopened,
            # targets on blocked schemes closed or sent back, how the managed policy applies
            "blocked_keys": dict(parts.input.blocked_keys),
            "window_reopens": parts.browser.reopens,
            "guarded_targets": parts.browser.guarded,
            "browser_policy": self.browser_policy,
            # the page's media (extension, player/): looks at it and media commands carried out
            "media_looks": parts.player.looks,
            "media_commands": parts.player.commands,
            "audio_frames": parts.audio.frames_encoded if parts.audio is not None else 0,
            "audio_packets": self.audio_bc.packets,
        }

    def _rung_stats(self, parts: Components, dt: float) -> list[dict[str, Any]]:
        """Viewers, frames, keyframes and encode CPU of each rung since the last heartbeat:
        `encode_cpu_percent` (% of a core: scaling and encoding in the capture thread; the top
        rung's libx264 slice threads are not in it, the lower rungs encode on one thread) and
        `encode_ms` (wall time per frame)."""
        viewers = self.video_bc.viewers_per_rung()
        prev = self._rung_cpu_prev
        out = []
        for r, name in zip(parts.video.rungs, rung_names(parts.video.ladder), strict=True):
            cpu0, busy0, frames0 = prev.get(r.index, (0.0, 0.0, 0))
            cpu, busy, frames = r.cpu_seconds - cpu0, r.busy_seconds - busy0, r.frames - frames0
            prev[r.index] = (r.cpu_seconds, r.busy_seconds, r.frames)
            out.append(
                {
                    "rung": name,
                    "width": r.rung.width,
                    "height": r.rung.height,
                    "fps": r.rung.fps,
                    "kbps": r.rung.kbps,
                    "viewers": viewers.get(r.index, 0),
                    "active": r.active,
                    "frames": r.frames,
                    "keyframes": r.keyframes,
                    "keyframe_requests": r.keyframe_requests,
                    "encode_cpu_percent": round(100 * cpu / dt, 1),
                    "encode_ms": round(1000 * busy / frames, 2) if frames else 0.0,
                }
            )
        return out

    async def _heartbeat_loop(self, parts: Components) -> None:
        while True:
            await asyncio.sleep(self.s.heartbeat_s)
            await self._send("heartbeat", self.stats(parts))


def _to_viewers(peers: PeerManager, data: bytes, *, pointer: bool) -> None:
    """The cursor's position (pointer channel) or shape (input channel) to every viewer."""
    for viewer in list(peers.viewers.values()):
        if pointer:
            viewer.send_pointer(data)
        else:
            viewer.send_input(data)


def _cursor_to(cursor: CursorWatcher, viewer: Viewer, label: str) -> None:
    """A viewer's channel opened: it gets the cursor's current shape and position at once."""
    if label == "input" and cursor.shape_msg is not None:
        viewer.send_input(cursor.shape_msg)
    if label == "pointer" and cursor.pos_msg is not None:
        viewer.send_pointer(cursor.pos_msg)
