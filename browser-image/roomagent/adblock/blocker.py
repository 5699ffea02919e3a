"""The ad blocker over the agent's one DevTools connection (`cdp.Browser`), in every runtime.

Network: `Fetch.enable` on the browser's own session pauses every request of every target (each
tab, out-of-process iframe and worker of the room's browser, whoever attached to it); the agent
answers each from the compiled host set (`Fetch.failRequest` `BlockedByClient` for an ad or
tracker host, `Fetch.continueRequest` for the rest). Where a Chromium refuses the domain on its
browser session, each page and iframe session gets it instead (the same answers, on the session
the request came from).

Cosmetic: the generic element-hiding rules (adblock/script.py) are added to every page and
iframe session as a script run in every new document and, at once, in the documents already
there; turning blocking off removes the script and the style it added.

Concurrency: everything runs on the agent's event loop. DevTools events reach `_on_event` on the
connection's reader, which must not wait for replies: every command is spawned. A request is
answered even when deciding fails (then it goes on): a paused request never hangs the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from ..cdp import Browser, CdpError
from . import compiled, script
from .filters import Filters

log = logging.getLogger("roomagent.adblock")

FETCH_PATTERNS = {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}
# Targets that show documents (a tab, an out-of-process iframe): the cosmetic rules go there.
_DOCUMENT_TARGETS = frozenset({"page", "iframe"})
_BROWSER = ""  # the browser's own session in `_fetch_sessions`


class AdBlocker:
    """Blocks ad and tracker requests and hides ad slots while `enabled`."""

    def __init__(self, browser: Browser, filters: Filters) -> None:
        self.browser = browser
        self.filters = filters
        self.enabled = False
        self._source = script.source(filters)
        # Sessions of the documents' targets (pages, iframes) and the id of the script added to
        # each while blocking is on.
        self._sessions: dict[str, str | None] = {}
        # Where `Fetch` is enabled: the browser's session (`_BROWSER`), else each document
        # target's (`_per_session`, where the browser's session refused it).
        self._fetch_sessions: set[str] = set()
        self._per_session = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # one switch on or off at a time
        # Counters (heartbeat): requests refused and let through while blocking was on.
        self.blocked = 0
        self.allowed = 0

    async def start(self, *, enabled: bool) -> None:
        self.browser.listeners.append(self._on_event)
        if self.browser.page_session:
            self._sessions.setdefault(self.browser.page_session, None)
        await self.set_enabled(enabled)

    async def set_enabled(self, enabled: bool) -> None:
        async with self._lock:
            if enabled == self.enabled:
                return
            self.enabled = enabled
            if enabled:
                await self._fetch_on()
            else:
                await self._fetch_off()
            for session in list(self._sessions):
                await self._cosmetic(session)
            log.info("ad blocker %s", "on" if enabled else "off", extra=self.filters.summary())

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.browser.listeners.remove(self._on_event)
        for task in list(self._tasks):
            task.cancel()

    # network ----------------------------------------------------------------------------------
    async def _fetch_on(self) -> None:
        try:
            await self.browser.call("Fetch.enable", FETCH_PATTERNS)
            self._fetch_sessions.add(_BROWSER)
        except CdpError as e:
            log.warning("Fetch on the browser session refused: per page", extra={"error": str(e)})
            self._per_session = True
            for session in list(self._sessions):
                await self._fetch_on_session(session)

    async def _fetch_on_session(self, session: str) -> None:
        with contextlib.suppress(CdpError, TimeoutError):
            await self.browser.call("Fetch.enable", FETCH_PATTERNS, session)
            self._fetch_sessions.add(session)

    async def _fetch_off(self) -> None:
        for session in list(self._fetch_sessions):
            with contextlib.suppress(CdpError, TimeoutError):
                await self.browser.call("Fetch.disable", None, session or None)
        self._fetch_sessions.clear()
        self._per_session = False

    def _answer(self, params: dict[str, Any], session: str | None) -> None:
        request_id = params.get("requestId")
        if not request_id:
            return
        try:
            refuse = self.enabled and self.filters.blocks(str(params["request"]["url"]))
        except Exception:  # never leave a request paused
            log.exception("ad blocker could not judge a request")
            refuse = False
        if refuse:
            self.blocked += 1
            method, args = "Fetch.failRequest", {"errorReason": "BlockedByClient"}
        else:
            self.allowed += 1
            method, args = "Fetch.continueRequest", {}
        self._spawn(self._send(method, {"requestId": request_id, **args}, session))

    async def _send(self, method: str, params: dict[str, Any], session: str | None) -> None:
        # The request may be gone already (its frame navigated away): nothing to answer.
        with contextlib.suppress(CdpError, TimeoutError):
            await self.browser.call(method, params, session)

    # cosmetic ---------------------------------------------------------------------------------
    async def _cosmetic(self, session: str) -> None:
        """Bring one document target in line with `enabled`: the hiding script added (and run in
        the documents it has), or removed with its style."""
        try:
            old = self._sessions.get(session)
            if old is not None:
                self._sessions[session] = None
                await self.browser.call(
                    "Page.removeScriptToEvaluateOnNewDocument", {"identifier": old}, session
                )
            if self.enabled:
                res = await self.browser.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    {"source": self._source, "worldName": script.WORLD, "runImmediately": True},
                    session,
                )
                self._sessions[session] = str(res.get("identifier"))
            elif old is not None:
                await self._run_once(session, script.source(self.filters, on=False))
        except (CdpError, TimeoutError) as e:
            log.debug("cosmetic rules not applied", extra={"session": session, "error": str(e)})

    async def _run_once(self, session: str, source: str) -> None:
        """Run `source` now in every document of the session's target (in the blocker's world)."""
        res = await self.browser.call(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": source, "worldName": script.WORLD, "runImmediately": True},
            session,
        )
        await self.browser.call(
            "Page.removeScriptToEvaluateOnNewDocument",
            {"identifier": res.get("identifier")},
            session,
        )

    async def _attached(self, session: str) -> None:
        # A target's documents run the script only with its Page domain on (on already for the
        # room's page; again is harmless).
        with contextlib.suppress(CdpError, TimeoutError):
            await self.browser.call("Page.enable", None, session)
        async with self._lock:
            if session in self._sessions:
                return
            self._sessions[session] = None
            if self.enabled and self._per_session:
                await self._fetch_on_session(session)
            if self.enabled:
                await self._cosmetic(session)

    # events -----------------------------------------------------------------------------------
    def _on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if method == "Fetch.requestPaused":
            self._answer(params, session)
        elif method == "Target.attachedToTarget":
            info = params.get("targetInfo") or {}
            child = params.get("sessionId")
            if child and info.get("type") in _DOCUMENT_TARGETS:
                self._spawn(self._attached(str(child)))
        elif method == "Target.detachedFromTarget":
            child = params.get("sessionId")
            if child:
                self._sessions.pop(str(child), None)
                self._fetch_sessions.discard(str(child))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def load(directory: str, cache: str = "") -> Filters | None:
    """The compiled lists of `directory` (in a thread: a compiled copy is read in ~25 ms, the
    lists themselves parse in ~0.4 s; adblock/compiled.py), None and a loud log line when there
    are none. `cache`: where a compile is kept for the next agent ("": nowhere)."""
    try:
        filters, source = await asyncio.to_thread(compiled.load, Path(directory), cache)
    except OSError as e:
        log.error("ad blocker unavailable: %s", e)
        return None
    log.info("ad-block lists ready", extra={**filters.summary(), "source": source})
    return filters
