"""The room agent: wires launcher, media, peers, input, cursor, CDP and the control channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from watchparty_wire.agent import (
    AgentAnswer,
    AgentBrowserStatus,
    AgentMediaCmd,
    AgentMediaEnded,
    AgentMediaRefused,
    AgentMediaState,
    AgentNavigate,
    AgentOffer,
    AgentReady,
    AgentRemoteChanged,
    AgentReport,
    AgentRoomSettings,
    AgentStage,
    AgentTabsState,
    AuthOk,
    Heartbeat,
    IceServers,
    PeerClosed,
    PeersSync,
    RoomAssigned,
)
from watchparty_wire.envelope import read

from . import tabs_control
from .adblock import blocker as adblock
from .adblock.filters import Filters
from .cdp import Browser, CdpError
from .clipfiles.bridge import TYPES as CLIPFILES_TYPES
from .clipfiles.bridge import ClipFiles
from .components import Components
from .config import AgentSettings
from .control import ControlClient
from .cursor import CursorWatcher
from .input import wire
from .input.path import FALLBACK_TYPES, InputPath, from_json
from .input.xinject import Injector
from .launcher import Launcher
from .media.audio import AudioPipeline
from .media.fanout import Broadcaster, FrameBroadcaster
from .media.playout import PlayoutPolicy
from .media.video import VideoPipeline
from .peers import OfferRefused, PeerManager, Viewer
from .player.policy import BadCommand, parse_command
from .player.watcher import MediaWatcher
from .profile import ProfileStore, ProfileSync
from .stats import AgentStats, StatsSampler

log = logging.getLogger("roomagent")

# Encoded frames a viewer's track holds: a keyframe paced out at a weak viewer's rate takes a few
# frame intervals, and the frames behind it must not overflow into a keyframe request meanwhile.
VIDEO_QUEUE = 8
AUDIO_QUEUE = 8
WHEEL_FLUSH_S = 0.05


class FatalError(RuntimeError):
    pass


@dataclass(frozen=True)
class _Screen:
    """Where the room's browser runs: its X display, PulseAudio server and DevTools port."""

    display: str
    pulse_server: str | None
    cdp_port: int


Handler = Callable[[Components, dict[str, Any]], Awaitable[None]]

# Stopped in this order on shutdown (viewers first, the browser's processes last).
# The host's profile is saved first, while the browser still runs.
SHUTDOWN_ORDER = (
    "profile",
    "peers",
    "cursor",
    "player",
    "adblock",
    "clipfiles",
    "browser",
    "audio",
    "video",
    "injector",
    "launcher",
)


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
        # The room's `block_ads` (the control plane's word wins over WP_BLOCK_ADS) and the
        # blocker applying it, once the browser runs; its lists compile while the browser starts.
        self.block_ads = settings.block_ads
        self.adblock: adblock.AdBlocker | None = None
        self._filters: asyncio.Task[Filters | None] | None = None
        # The host's browser profile, once this room loads one (`auth.ok` / `room.assigned`
        # with keep_profile); saved every profile_save_s and as the agent stops.
        self.profile: ProfileSync | None = None
        self._profile_wanted = False
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
            **tabs_control.handlers(self.control, lambda: self.holder_id),
            "room.settings": self._room_settings,
            "room.ended": self._room_ended,
            **{type_: self._input_fallback(type_) for type_ in FALLBACK_TYPES},
            **{type_: self._clipfiles(type_) for type_ in CLIPFILES_TYPES},
        }
        self._sampler = StatsSampler(t0=self.t0, video_bc=self.video_bc, audio_bc=self.audio_bc)

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
        tasks.append(asyncio.create_task(self.control.run(), name="control"))
        self._filters = asyncio.create_task(
            adblock.load(self.s.adblock_lists, self.s.adblock_cache), name="adblock"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.control.connected.wait(), 2)
        await self._set_stage("booting")
        launcher, screen = await self._launch()
        parts = await self._build(screen)
        self.parts.set_result(parts)
        await self._until_ready(parts)
        tasks.append(asyncio.create_task(self._heartbeat_loop(parts), name="heartbeat"))
        tasks.append(asyncio.create_task(self._wheel_loop(parts.injector), name="wheel"))
        return parts, launcher

    async def _launch(self) -> tuple[Launcher | None, _Screen]:
        """Launch the room's browser (Xvfb, PulseAudio, Chromium), unless WP_DISPLAY names one
        already running; where the components find it."""
        s = self.s
        if s.display:
            return None, _Screen(s.display, s.pulse_server, s.cdp_port)
        launcher = Launcher(s)
        self._stops["launcher"] = launcher.stop
        launched = await launcher.start()
        self.browser_policy = launched.policy
        await self._report_policy()
        log.info("launched room browser", extra={"display": launched.display})
        return launcher, _Screen(launched.display, launched.pulse_server, launched.cdp_port)

    async def _build(self, screen: _Screen) -> Components:
        """Every component, started, on the launched browser's display, sound and DevTools."""
        s, display = self.s, screen.display
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
            audio = AudioPipeline(s, screen.pulse_server, self.audio_bc, self.t0, playout.heard)
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
        browser = Browser(screen.cdp_port, self._on_status, self._on_tabs, max_tabs=self.s.max_tabs)
        self._stops["browser"] = browser.close
        await browser.connect()
        # Not waited for: the room is ready without it (its lists may still be compiling on a
        # busy machine); it blocks from the moment it runs.
        self.control.spawn(self._start_adblock(browser), "adblock")
        player = MediaWatcher(browser, self._on_media_state, self._on_media_ended, s.media_poll_s)
        self._stops["player"] = player.stop
        clipfiles = self._build_clipfiles(browser, display, input_path)
        return Components(
            video, injector, input_path, peers, cursor, browser, audio, playout, player, clipfiles
        )

    async def _start_adblock(self, browser: Browser) -> None:
        """The ad blocker on the room's browser, on or off as the room says (no lists: none, and
        the control plane hears `adblock_unavailable` on every connect)."""
        filters = await self._filters if self._filters is not None else None
        if filters is None:
            await self._report_policy()
            return
        self.adblock = adblock.AdBlocker(browser, filters)
        self._stops["adblock"] = self.adblock.close
        await self.adblock.start(enabled=self.block_ads)
        # A `block_ads` that arrived while it started (the lock orders the two).
        await self.adblock.set_enabled(self.block_ads)

    async def _set_block_ads(self, on: bool) -> None:
        """The room's `block_ads`, applied at once when the blocker runs (else when it starts)."""
        if on != self.block_ads:
            log.info("block ads: %s", on)
        self.block_ads = on
        if self.adblock is not None:
            await self.adblock.set_enabled(on)

    async def _room_settings(self, parts: Components, data: dict[str, Any]) -> None:
        await self._set_block_ads(read(AgentRoomSettings, data).block_ads)

    def _build_clipfiles(self, browser: Browser, display: str, input_path: InputPath) -> ClipFiles:
        """Clipboard and files (issue 22), watching the room's clipboard from now on."""
        clipfiles = ClipFiles(
            browser=browser,
            display=display,
            clipboard_max_bytes=self.s.clipboard_max_bytes,
            file_max_bytes=self.s.file_max_bytes,
            tmp_root=self.s.profile_dir,
            send=self.control.send,
            spawn=self.control.spawn,
            holder=lambda: self.holder_id,
            last_input_at=lambda: input_path.last_input_at,
        )
        self._stops["clipfiles"] = clipfiles.stop
        clipfiles.start()
        return clipfiles

    async def _until_ready(self, parts: Components) -> None:
        """Report `browser_ready` once the start page loaded, then `ready` with the first
        encoded picture."""
        browser = parts.browser
        await browser.wait_loaded(blank_ok=self.s.start_url == "about:blank")
        # The start page's status goes out before `browser_ready` and `ready`, whatever the order
        # of CDP events was (a viewer's first state then always names the page it sees).
        with contextlib.suppress(CdpError, TimeoutError):
            await browser.report_now()
        await self._set_stage("browser_ready")
        await asyncio.wait_for(asyncio.shield(parts.video.first_packet), 20)
        self.is_ready = True
        await self.control.send(self._ready())
        log.info("room ready", extra=self._ready().data())
        # The page's media is reported from `ready` on (its first state follows at once).
        parts.player.start()

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
    def _ready(self) -> AgentReady:
        return AgentReady(
            width=self.s.width, height=self.s.height, fps=self.s.fps, codec=self.s.codec
        )

    async def _set_stage(self, stage: str) -> None:
        self.stage = stage
        await self.control.send(AgentStage.model_validate({"stage": stage}))

    async def _on_control_up(self, data: dict[str, Any]) -> None:
        ok = read(AuthOk, data)
        if ok.pooled:
            self.pooled = True
        elif self.pooled:
            # Handed to a room while we were reconnecting: the `room.assigned` was missed.
            assign = self._assign(ok.start_url, ok.holder_id, keep_profile=ok.keep_profile)
            self.control.spawn(assign, "assign")
        elif ok.keep_profile and not self._profile_wanted:
            # A room started for a host who keeps their profile: the browser started on a blank
            # page; the profile goes in, then the start page opens (signed in). Once per room
            # (`auth.ok` comes again on every reconnect).
            self._profile_wanted = True
            self.control.spawn(self._with_profile(ok.start_url), "profile-load")
        if self.stage is not None and not self.is_ready:
            await self.control.send(AgentStage.model_validate({"stage": self.stage}))
        await self._report_policy()
        await self._set_block_ads(ok.block_ads)
        if ok.ice_servers is not None:
            self.ice_servers = list(ok.ice_servers)
            if self.parts.done():
                self.parts.result().peers.ice_servers = list(self.ice_servers)
        self._set_holder(ok.holder_id)
        if ok.conns is not None and self.parts.done():
            # Reconnected: the peers of sockets that left meanwhile (their `peer.closed` went
            # nowhere) are dropped now.
            await self.parts.result().peers.reconcile(set(ok.conns))
        if self.is_ready:
            await self.control.send(self._ready())
        if self.parts.done() and self.parts.result().browser.status:
            await self._on_status(self.parts.result().browser.status)
        if self.parts.done() and self.parts.result().browser.tabs_status:
            await self._on_tabs(self.parts.result().browser.tabs_status)
        if self.parts.done() and self.parts.result().player.last_state is not None:
            await self._on_media_state(self.parts.result().player.last_state or {})

    async def _report_policy(self) -> None:
        """A browser without its managed policy, or without its ad blocker's lists, is said on
        every connect, never only logged."""
        if self.browser_policy.startswith("unavailable"):
            await self.control.send(
                AgentReport(code="browser_policy_unavailable", message=self.browser_policy)
            )
        if self._filters is not None and self._filters.done() and self._filters.result() is None:
            message = f"no ad-block filter lists under {self.s.adblock_lists}"
            await self.control.send(AgentReport(code="adblock_unavailable", message=message))

    async def _on_status(self, status: dict[str, Any]) -> None:
        await self.control.send(AgentBrowserStatus.model_validate(status))

    async def _on_tabs(self, state: dict[str, Any]) -> None:
        await self.control.send(AgentTabsState.model_validate(state))

    async def _on_media_state(self, state: dict[str, Any]) -> None:
        await self.control.send(AgentMediaState.model_validate(state))

    async def _on_media_ended(self, url: str) -> None:
        await self.control.send(AgentMediaEnded(url=url))

    async def handle(self, type_: str, data: dict[str, Any]) -> None:
        """A control-plane message (docs/protocol.md, "Control plane → agent"), once every
        component runs."""
        parts = await self.parts
        handler = self._handlers.get(type_)
        if handler is None:
            await self.control.send(AgentReport(code="unknown_type", message=type_))
            return
        await handler(parts, data)

    async def _rtc_offer(self, parts: Components, data: dict[str, Any]) -> None:
        offer = read(AgentOffer, data)
        conn, user = offer.conn, offer.from_
        try:
            sdp = await parts.peers.answer(conn, user, offer.sdp)
        except OfferRefused as e:
            log.warning("offer refused", extra={"conn": conn, "code": e.code})
            await self.control.send(AgentReport(code=e.code, message=str(e), conn=conn))
            return
        except Exception as e:
            log.exception("offer failed", extra={"conn": conn})
            await self.control.send(AgentReport(code="bad_offer", message=str(e), conn=conn))
            return
        await self.control.send(AgentAnswer(to=user, conn=conn, sdp=sdp))

    async def _peer_closed(self, parts: Components, data: dict[str, Any]) -> None:
        await parts.peers.close(read(PeerClosed, data).conn)

    async def _peers_sync(self, parts: Components, data: dict[str, Any]) -> None:
        await parts.peers.reconcile(set(read(PeersSync, data).conns))

    async def _remote_changed(self, parts: Components, data: dict[str, Any]) -> None:
        self._set_holder(read(AgentRemoteChanged, data).holder_id)

    async def _room_assigned(self, parts: Components, data: dict[str, Any]) -> None:
        assigned = read(RoomAssigned, data)
        if self.pooled:
            await self._set_block_ads(assigned.block_ads)
        await self._assign(
            assigned.start_url, assigned.holder_id, keep_profile=assigned.keep_profile
        )

    async def _room_ended(self, parts: Components, data: dict[str, Any]) -> None:
        """The room ended: its runtime stops us next. The host's profile is saved now, while
        the browser still runs (the stop's SIGTERM waits for the same save)."""
        if self.profile is not None:
            await self.profile.last_save()

    async def _ice_servers(self, parts: Components, data: dict[str, Any]) -> None:
        parts.peers.ice_servers = list(read(IceServers, data).ice_servers)

    async def _navigate(self, parts: Components, data: dict[str, Any]) -> None:
        parts.video.boost()
        url = read(AgentNavigate, data).url
        if not url.startswith(("http://", "https://")):
            raise ValueError("only http(s) URLs")
        await parts.browser.navigate(url)

    async def _media_cmd(self, parts: Components, data: dict[str, Any]) -> None:
        """Play, pause, seek, seek by, rate: on the page's main media element; its next
        `media.state` shows the result, `media.refused {code: "no_media"}` to the member who
        asked says there is none (the page's media went away since the last state)."""
        try:
            cmd = read(AgentMediaCmd, data)
            # The agent's own limits on top of the model's (a rate clamped to 0.25..4, a seek
            # before the start taken as 0).
            action, value = parse_command({"action": cmd.action, "value": cmd.value})
        except (ValidationError, BadCommand) as e:
            await self.control.send(AgentReport(code="bad_message", message=str(e)[:500]))
            return
        if not await parts.player.command(action, value):
            await self.control.send(
                AgentMediaRefused(
                    type="media.cmd",
                    code="no_media",
                    message="The page has no video or audio to control",
                    conn=cmd.conn,
                )
            )

    def _history(self, delta: int) -> Handler:
        async def go(parts: Components, data: dict[str, Any]) -> None:
            parts.video.boost()
            await parts.browser.go(delta)

        return go

    async def _reload(self, parts: Components, data: dict[str, Any]) -> None:
        parts.video.boost()
        await parts.browser.reload()

    def _clipfiles(self, type_: str) -> Handler:
        """`clipboard.*` and `file.*`: to the clipboard and files part, which drops whatever
        its holder did not send."""

        async def handle(parts: Components, data: dict[str, Any]) -> None:
            if type_ == "clipboard.paste":
                parts.video.boost()
            await parts.clipfiles.handlers[type_](data)

        return handle

    def _input_fallback(self, type_: str) -> Handler:
        """The JSON input fallback, converted into the data channel's actions and applied by
        the one input path (the hub forwards it for the holder only)."""

        async def submit(parts: Components, data: dict[str, Any]) -> None:
            for action in from_json(type_, data):
                parts.input.submit(action, sender=None)

        return submit

    async def _assign(
        self, start_url: str | None, holder_id: str | None, *, keep_profile: bool = False
    ) -> None:
        """This warm browser is a room's now: nothing of its wait may reach the room. With
        `keep_profile` the host's profile goes in after the wipe, before the start page."""
        if not self.pooled:
            return
        self.pooled = False
        parts = await self.parts
        self._set_holder(holder_id)
        await parts.browser.wipe()
        if keep_profile and not self._profile_wanted:
            self._profile_wanted = True
            await self._with_profile(start_url)
        else:
            await self._open_start(parts, start_url)
        log.info("assigned to a room", extra={"start_url": start_url or None})

    async def _open_start(self, parts: Components, start_url: str | None) -> None:
        url = start_url or ""
        await parts.browser.open_as_first(url if url.startswith(("http://", "https://")) else None)

    async def _with_profile(self, start_url: str | None) -> None:
        """Load the host's saved profile (none, or a refused one: the room starts clean), open
        the start page, and save the profile from then on."""
        parts = await self.parts
        store = ProfileStore(self.s.control_url, self.s.room_id, self.s.agent_secret)
        sync = ProfileSync(parts.browser, store, self.s.profile_save_s)
        loaded = await sync.load()
        await self._open_start(parts, start_url)
        if loaded == "failed":
            return  # never saved over: the user's profile is kept for their next room
        self.profile = sync
        self._stops["profile"] = sync.stop
        sync.start()

    def _set_holder(self, holder: Any) -> None:
        holder = None if holder is None else str(holder)
        if holder != self.holder_id:
            log.info("remote holder changed", extra={"holder": holder})
        self.holder_id = holder
        if self.parts.done():
            self.parts.result().input.set_holder(holder)
            self.parts.result().clipfiles.holder_changed(holder)

    async def _wheel_loop(self, injector: Injector) -> None:
        while True:
            await asyncio.sleep(WHEEL_FLUSH_S)
            injector.flush_wheel()

    # stats ----------------------------------------------------------------------------------------
    def stats(self, parts: Components) -> AgentStats:
        """This heartbeat's figures (rates since the previous one)."""
        return self._sampler.sample(parts, browser_policy=self.browser_policy)

    async def _heartbeat_loop(self, parts: Components) -> None:
        while True:
            await asyncio.sleep(self.s.heartbeat_s)
            figures = self.stats(parts).wire()
            if self.adblock is not None:
                # The ad blocker: on or off now, requests refused and let through since start.
                figures["ads"] = {
                    "on": self.adblock.enabled,
                    "blocked": self.adblock.blocked,
                    "allowed": self.adblock.allowed,
                }
            await self.control.send(Heartbeat.model_validate(figures))


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
