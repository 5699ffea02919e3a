"""The room page's media over DevTools: finds the main media element in every frame, reports
its state, carries out `media.cmd` and says when it ended (docs/protocol.md, `media.*`).

Where it looks: the room's page target and, through `Target.setAutoAttach` (flatten) on it, every
out-of-process iframe (a cross-site player); in each of those targets every frame of its frame
tree (`Page.getFrameTree`), so a cross-origin iframe in the page's own process counts too. In
each frame it runs player/script.py in an isolated world of its own: no `Runtime.enable`, no
binding, no global the page could see. It looks every `poll_s` and right after each command;
player/policy.py chooses the main element and decides what to send when.

Concurrency: one look at a time (`_look_lock`); a command does not wait for a look in progress
(it drives the main element the last look found, then asks for a new look); every DevTools call
is bounded by `CALL_TIMEOUT_S` so a hung renderer delays the reports, never the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..cdp import Browser, CdpError
from . import script
from .adapters import adapter_for
from .policy import Candidate, Reporter, choose_main, ended_now, state_of

log = logging.getLogger("roomagent.player")

StateCallback = Callable[[dict[str, Any]], Awaitable[None]]
EndedCallback = Callable[[str], Awaitable[None]]

CALL_TIMEOUT_S = 2.0
# A frame in which no world could be made is tried again after this long.
NO_WORLD_RETRY_S = 2.0
# Frames probed per target at most (ad-heavy pages nest dozens).
MAX_FRAMES = 32


def _frames(tree: dict[str, Any]) -> list[tuple[str, str]]:
    """(frame id, url) of every frame of a `Page.getFrameTree` answer, top first."""
    out: list[tuple[str, str]] = []
    stack = [tree]
    while stack and len(out) < MAX_FRAMES:
        node = stack.pop(0)
        frame = node.get("frame") or {}
        out.append((str(frame.get("id", "")), str(frame.get("url", ""))))
        stack.extend(node.get("childFrames") or [])
    return out


def _candidate(session: str, frame: str, ctx: int, raw: dict[str, Any]) -> Candidate:
    duration = raw.get("duration")
    return Candidate(
        key=(session, frame, ctx, int(raw["id"])),
        video=bool(raw.get("video")),
        area=float(raw.get("area") or 0),
        ready_state=int(raw.get("ready") or 0),
        paused=bool(raw.get("paused")),
        time=float(raw.get("time") or 0),
        duration=None if duration is None else float(duration),
        rate=float(raw.get("rate") or 1),
        muted=bool(raw.get("muted")),
        ended=bool(raw.get("ended")),
        ends=int(raw.get("ends") or 0),
        title=str(raw.get("title") or ""),
    )


class MediaWatcher:
    def __init__(
        self,
        browser: Browser,
        on_state: StateCallback,
        on_ended: EndedCallback,
        poll_s: float = 0.25,
    ) -> None:
        self.browser = browser
        self.on_state = on_state
        self.on_ended = on_ended
        self.poll_s = poll_s
        self.reporter = Reporter()
        self.main: Candidate | None = None
        # Out-of-process iframes attached under the page (session id -> target id), and the
        # session each was attached under (a tab's, or another iframe's): only those under the
        # tab on screen count (issue 22: the watcher follows the active tab).
        self.children: dict[str, str] = {}
        self._parent: dict[str, str] = {}
        # Isolated world per (session, frame id, frame url); a navigated frame gets a new one.
        self._worlds: dict[tuple[str, str, str], int] = {}
        # Frames whose world could not be made (remote frames of another target, ...).
        self._no_world: dict[tuple[str, str, str], float] = {}
        self._frame_url: dict[tuple[str, str], str] = {}
        self._wake = asyncio.Event()
        self._look_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._attaching: set[asyncio.Future[None]] = set()
        self.looks = 0
        self.commands = 0
        browser.listeners.append(self._on_event)

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="media-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    @property
    def last_state(self) -> dict[str, Any] | None:
        return None if self.reporter.last is None else dict(self.reporter.last)

    async def _run(self) -> None:
        while True:
            try:
                await self.look()
            except (CdpError, TimeoutError) as e:
                log.debug("media look failed", extra={"error": str(e)})
            except Exception:
                log.exception("media look failed")
            wait = self.poll_s
            if self.reporter.held:  # a change waits for the rate limit: look again then
                wait = min(wait, max(0.01, self.reporter.wait(time.monotonic())))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    # DevTools events (on the reader: no awaiting here) -------------------------------------------
    def _on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if method == "Target.attachedToTarget":
            info = params.get("targetInfo") or {}
            child = str(params.get("sessionId", ""))
            if info.get("type") == "iframe" and child:
                self.children[child] = str(info.get("targetId", ""))
                if session:
                    self._parent[child] = session
                # Its own iframes too (a player nested in a cross-site embed).
                task = asyncio.ensure_future(self._auto_attach(child))
                self._attaching.add(task)
                task.add_done_callback(self._attaching.discard)
                self._wake.set()
        elif method == "Target.detachedFromTarget":
            child = str(params.get("sessionId", ""))
            if self.children.pop(child, None) is not None:
                self._parent.pop(child, None)
                self._forget(child)
                self._wake.set()

    async def _auto_attach(self, session: str) -> None:
        with contextlib.suppress(CdpError, TimeoutError):
            await asyncio.wait_for(self.browser.auto_attach(session), CALL_TIMEOUT_S)

    def _forget(self, session: str) -> None:
        self._worlds = {k: v for k, v in self._worlds.items() if k[0] != session}
        self._no_world = {k: t for k, t in self._no_world.items() if k[0] != session}

    async def _call(self, method: str, params: dict[str, Any], session: str) -> Any:
        return await asyncio.wait_for(self.browser.call(method, params, session), CALL_TIMEOUT_S)

    # looking ------------------------------------------------------------------------------------
    def sessions(self) -> list[str]:
        """The tab on screen's session and those of the iframes under it."""
        page = self.browser.page_session
        if not page:
            return []
        return [page] + [c for c in self.children if self._root(c) == page]

    def _root(self, session: str) -> str | None:
        """The session at the top of an iframe's chain of parents (a tab's)."""
        seen: set[str] = set()
        while session in self._parent and session not in seen:
            seen.add(session)
            session = self._parent[session]
        return session if session not in self.children else None

    async def candidates(self) -> list[Candidate]:
        sessions = self.sessions()
        stale = {k[0] for k in self._worlds} - set(sessions)
        for s in stale:  # the page was re-attached (its window reopened): old worlds are gone
            self._forget(s)
        found = await asyncio.gather(*(self._session_candidates(s) for s in sessions))
        return [c for cs in found for c in cs]

    async def _session_candidates(self, session: str) -> list[Candidate]:
        try:
            tree = await self._call("Page.getFrameTree", {}, session)
        except (CdpError, TimeoutError):
            return []
        out: list[Candidate] = []
        frames = _frames(tree.get("frameTree") or {})
        self._frame_url = {k: v for k, v in self._frame_url.items() if k[0] != session}
        for frame_id, url in frames:
            self._frame_url[(session, frame_id)] = url
            out.extend(await self._frame_candidates(session, frame_id, url))
        return out

    async def _world(self, session: str, frame_id: str, url: str) -> int | None:
        key = (session, frame_id, url)
        now = time.monotonic()
        if now < self._no_world.get(key, 0.0):
            return None
        ctx = self._worlds.get(key)
        if ctx is None:
            try:
                res = await self._call(
                    "Page.createIsolatedWorld",
                    {"frameId": frame_id, "worldName": script.WORLD_NAME},
                    session,
                )
            except (CdpError, TimeoutError):
                # A frame of another target (out of process), or one still loading: not again
                # for a while.
                self._no_world[key] = now + NO_WORLD_RETRY_S
                return None
            ctx = int(res["executionContextId"])
            # One world per frame and document: the frame's previous document's is gone.
            self._worlds = {k: v for k, v in self._worlds.items() if k[:2] != (session, frame_id)}
            self._worlds[key] = ctx
        return ctx

    async def _evaluate(self, session: str, ctx: int, expression: str) -> Any:
        """Not as a user gesture: that would hand the page a user activation (pop-ups,
        fullscreen) it did not earn. `play()` needs none: the room's browser runs with
        `--autoplay-policy=no-user-gesture-required` (launcher.py)."""
        res = await self._call(
            "Runtime.evaluate",
            {"expression": expression, "contextId": ctx, "returnByValue": True, "timeout": 1000},
            session,
        )
        if "exceptionDetails" in res:
            raise CdpError(str(res["exceptionDetails"].get("text", "exception")))
        return res.get("result", {}).get("value")

    async def _frame_candidates(self, session: str, frame_id: str, url: str) -> list[Candidate]:
        ctx = await self._world(session, frame_id, url)
        if ctx is None:
            return []
        try:
            raw = await self._evaluate(session, ctx, script.PROBE)
        except (CdpError, TimeoutError):
            # The world went with its document (a navigation between two looks): a new one next.
            self._worlds.pop((session, frame_id, url), None)
            return []
        # The world's id is part of each element's key: a reloaded frame's elements are others.
        return [_candidate(session, frame_id, ctx, r) for r in raw or []]

    async def look(self) -> None:
        """Read the page's media once; report what the policy says to, and an end."""
        async with self._look_lock:
            found = await self.candidates()
            self.looks += 1
            previous = self.main
            main = choose_main(found, previous.key if previous else None)
            if main is not None and (previous is None or main.key != previous.key):
                log.info(
                    "main media element",
                    extra={
                        "frame_url": self._frame_url.get(main.key[:2], "")[:200],
                        # "iframe": in an out-of-process iframe's own target
                        "target": "iframe" if main.key[0] in self.children else "page",
                    },
                )
            self.main = main
            status = self.browser.status
            if ended_now(previous, main):
                url = str(status.get("url") or "")
                log.info("media ended", extra={"url": url[:200]})
                await self.on_ended(url)
            state = state_of(main, str(status.get("title") or ""))
            if self.reporter.offer(time.monotonic(), state):
                await self.on_state(state)

    # commands -----------------------------------------------------------------------------------
    async def command(self, action: str, value: float | None) -> bool:
        """Drive the main media element; False when the page has none. The result is reported by
        the look this asks for."""
        for attempt in range(2):
            if self.main is None or attempt:
                await self.look()  # media that appeared, or an element that went, since
            main = self.main
            if main is None:
                return False
            session, frame_id, ctx, element = main.key
            adapter = adapter_for(self._frame_url.get((session, frame_id), ""))
            expression = adapter.command(element, action, value)
            try:
                if adapter.main_world:
                    res = await self._call(
                        "Runtime.evaluate",
                        {"expression": expression, "returnByValue": True},
                        session,
                    )
                    done = "exceptionDetails" not in res
                else:
                    done = await self._evaluate(session, ctx, expression) == "ok"
            except (CdpError, TimeoutError):
                done = False
            if done:
                self.commands += 1
                log.info(
                    "media command",
                    extra={"action": action, "value": value, "adapter": adapter.name},
                )
                self._wake.set()
                return True
        return False
