"""Chromium DevTools Protocol over loopback: navigation, browser.status reporting, and the guard
that keeps the room's window open and off what the room must never show.

The guard holds in every runtime, with or without the managed policy
(browser-image/policies/watchparty.json): downloads are denied, a page's file chooser is
intercepted (never shown), a target on a blocked scheme (file:, chrome:, devtools:,
view-source:, ...) is closed, or, when it is the room's page, sent back (or to about:blank), and
when the room's page target goes away (the page called `window.close()`, a close shortcut
slipped through) a new window is opened and attached. Chromium runs with
`--keep-alive-for-test` (launcher.py) so that closing its last window does not end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import websockets

log = logging.getLogger("roomagent.cdp")

StatusCallback = Callable[[dict[str, Any]], Awaitable[None]]
# (method, params, session id or None for the browser's own): called on the reader for every
# event, so it must not wait for a reply (spawn what needs one).
EventListener = Callable[[str, dict[str, Any], str | None], None]

_STATUS_EVENTS = {
    "Page.frameNavigated",
    "Page.navigatedWithinDocument",
    "Page.loadEventFired",
    "Page.domContentEventFired",
    "Page.frameStartedLoading",
    "Page.frameStoppedLoading",
    "Target.targetInfoChanged",
}


# What a status may carry (docs/protocol.md, "browser.status"): a page picks its own title and
# URL, and the agent channel's frames are limited (64 KiB), so both are cut here, at the source.
TITLE_MAX_CHARS = 300
URL_MAX_CHARS = 2048

# Schemes the room's browser must never show (the managed policy's URLBlocklist blocks them
# too): the machine's files, Chromium's own pages, DevTools and page sources.
BLOCKED_SCHEMES = (
    "file:",
    "filesystem:",
    "chrome:",
    "chrome-untrusted:",
    "chrome-extension:",
    "chrome-search:",
    "devtools:",
    "view-source:",
)
# Target types that show a page in a window (DevTools' own window is a `page` on devtools://).
# Chromium's own UI (`browser_ui`, `other`: the hidden omnibox popup is a chrome:// one) is
# left alone: closing it breaks the window.
_CONTENT_TARGETS = frozenset({"page"})

# The page's out-of-process iframes (a cross-site player) are attached to, flattened onto this one
# connection and running (never held for a debugger): the media watcher reads their media.
AUTO_ATTACH: dict[str, Any] = {
    "autoAttach": True,
    "waitForDebuggerOnStart": False,
    "flatten": True,
    "filter": [{"type": "iframe", "exclude": False}],
}

# A page that closes its window again and again is reopened on about:blank after this many
# reopens in a minute.
REOPEN_SAME_URL_PER_MINUTE = 3
# The room's page leaves a blocked URL once its navigation has settled (waited for at most this).
LEAVE_SETTLE_S = 2.0


class CdpError(RuntimeError):
    pass


def blocked_scheme(url: str) -> bool:
    return url.strip().lower().startswith(BLOCKED_SCHEMES)


def _browser_ui(url: str) -> bool:
    """Chromium's own "top chrome" WebUI (chrome://omnibox-popup.top-chrome/, ...): part of the
    window, briefly listed as a page while it is created."""
    host = urlsplit(url).hostname or ""
    return url.startswith("chrome://") and host.endswith(".top-chrome")


def cap_status(url: str, title: str) -> tuple[str, str]:
    return url[:URL_MAX_CHARS], title[:TITLE_MAX_CHARS]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def _http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


class Browser:
    """One browser-level DevTools connection attached to the room's page target."""

    def __init__(self, port: int, on_status: StatusCallback) -> None:
        self.port = port
        self.on_status = on_status
        self._ws: Any = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._session: str | None = None
        self._target_id: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self.loading = False
        self._stopped_loading = asyncio.Event()  # set while the page's main frame is not loading
        self._leaving = asyncio.Lock()  # the page is sent back from one blocked URL at a time
        self.status: dict[str, Any] = {}
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Others' interest in events (the media watcher: iframe targets attached and detached).
        self.listeners: list[EventListener] = []
        # The guard's work, spawned from the reader (which must not wait on its own replies).
        self._guard_tasks: set[asyncio.Task[None]] = set()
        self._reopening = False
        self._reopen_times: list[float] = []
        # Counters (heartbeat): windows reopened, targets closed or sent back by the guard.
        self.reopens = 0
        self.guarded = 0

    async def connect(self, deadline_s: float = 20) -> None:
        base = f"http://127.0.0.1:{self.port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while True:
            try:
                version = await asyncio.to_thread(_http_json, f"{base}/json/version")
                break
            except OSError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        self._ws = await websockets.connect(
            version["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, ping_interval=None
        )
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")
        await self._attach(deadline)
        self._refresh = asyncio.create_task(self._refresh_loop(), name="cdp-status")

    async def _attach(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        await self.call("Target.setDiscoverTargets", {"discover": True})
        # Nothing the room's browser fetches is written to disk (the policy's
        # DownloadRestrictions, again here for a browser without the policy). With events on, a
        # download the page starts is still announced (`downloadWillBegin`): the holder is told.
        await self.call("Browser.setDownloadBehavior", {"behavior": "deny", "eventsEnabled": True})
        while True:
            targets = (await self.call("Target.getTargets"))["targetInfos"]
            pages = [t for t in targets if t["type"] == "page" and not _browser_ui(t["url"])]
            if pages:
                break
            if loop.time() > deadline:
                raise CdpError("no page target")
            await asyncio.sleep(0.1)
        await self._attach_to(pages[0]["targetId"])

    async def _attach_to(self, target_id: str) -> None:
        """Make `target_id` the room's page: the session every page command goes to."""
        res = await self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        self._target_id = target_id
        self._session = res["sessionId"]
        await self.page("Page.enable")
        # No `Runtime.enable`: sites look for it (what it makes DevTools do with their console),
        # and nothing here needs it: `Runtime.evaluate` works without it.
        await self.auto_attach(res["sessionId"])
        # A page's <input type=file> would open a dialog onto the machine's files: intercepted,
        # it opens nothing (the policy's AllowFileSelectionDialogs, again here).
        await self.page("Page.setInterceptFileChooserDialog", {"enabled": True})
        self._dirty.set()

    async def auto_attach(self, session: str) -> None:
        """`AUTO_ATTACH` on a target's session; without its filter where Chromium has none (then
        workers are attached too, and left alone)."""
        try:
            await self.call("Target.setAutoAttach", AUTO_ATTACH, session)
        except CdpError:
            plain = {k: v for k, v in AUTO_ATTACH.items() if k != "filter"}
            await self.call("Target.setAutoAttach", plain, session)

    async def close(self) -> None:
        for task in [*self._guard_tasks, self._refresh, self._reader]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            await self._ws.close()

    # transport ------------------------------------------------------------------------------
    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        if self._ws is None:
            raise CdpError("not connected")
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = fut
        await self._ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, 30)

    @property
    def page_session(self) -> str | None:
        """The DevTools session of the room's page (a new one after the window was reopened)."""
        return self._session

    async def page(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.call(method, params, self._session)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self._pending.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        if "error" in msg:
                            fut.set_exception(CdpError(msg["error"].get("message", "error")))
                        else:
                            fut.set_result(msg.get("result", {}))
                    continue
                self._on_event(msg.get("method", ""), msg.get("params", {}), msg.get("sessionId"))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("DevTools connection closed"))
            if not self.closed.done():
                self.closed.set_result(None)

    def _on_event(self, method: str, params: dict[str, Any], session: str | None = None) -> None:
        self._guard(method, params)
        for listener in self.listeners:
            try:
                listener(method, params, session)
            except Exception:
                log.exception("DevTools event listener failed", extra={"event": method})
        if method not in _STATUS_EVENTS:
            return
        if method == "Target.targetInfoChanged":
            if params.get("targetInfo", {}).get("targetId") != self._target_id:
                return
        elif method in ("Page.frameStartedLoading", "Page.frameStoppedLoading"):
            if params.get("frameId") != self._target_id:  # main frame id == target id
                return
            self.loading = method == "Page.frameStartedLoading"
            if self.loading:
                self._stopped_loading.clear()
            else:
                self._stopped_loading.set()
        elif method == "Page.frameNavigated" and params.get("frame", {}).get("parentId"):
            return
        self._dirty.set()

    # guard ------------------------------------------------------------------------------------
    def _guard(self, method: str, params: dict[str, Any]) -> None:
        """Runs on the reader for every event: anything that needs a command is spawned."""
        if method in ("Target.targetCreated", "Target.targetInfoChanged"):
            info = params.get("targetInfo") or {}
            url = str(info.get("url", ""))
            if (
                info.get("type") in _CONTENT_TARGETS
                and blocked_scheme(url)
                and not _browser_ui(url)
            ):
                self._spawn(self._leave_blocked(str(info["targetId"]), str(info["url"])))
        elif method == "Target.targetDestroyed":
            if params.get("targetId") == self._target_id:
                self._spawn(self._reopen("page target destroyed"))
        elif method == "Target.detachedFromTarget":
            if params.get("sessionId") == self._session:
                self._spawn(self._reopen("page target detached"))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._guard_tasks.add(task)
        task.add_done_callback(self._guard_tasks.discard)

    async def _leave_blocked(self, target_id: str, url: str) -> None:
        self.guarded += 1
        log.warning(
            "blocked page in the room browser", extra={"url": url[:200], "target": target_id}
        )
        try:
            if target_id != self._target_id:
                await self.call("Target.closeTarget", {"targetId": target_id})
                return
            # The room's page. Not while the navigation that brought the blocked URL is still
            # under way: sending the page elsewhere while the policy's error page takes the
            # frame makes Chromium stop on a CHECK (SIGTRAP, the room fails; about half the
            # times a blocked URL was forced through DevTools). Once the frame has stopped
            # loading, look again: if the page is still on a blocked scheme (the policy's error
            # page keeps the refused URL; a browser without the policy shows the page itself),
            # it goes back to its last allowed history entry, else to a blank page.
            # One at a time: blocked URLs forced in a row each spawn this; the later ones find
            # the page already sent back (or go on from where the earlier one left it).
            async with self._leaving:
                await self._settled(LEAVE_SETTLE_S)
                info = await self.call("Target.getTargetInfo", {"targetId": target_id})
                if not blocked_scheme(str(info["targetInfo"].get("url", ""))):
                    return
                index, entries = await self._history_when_attached()
                allowed = [
                    e for e in entries[: index + 1] if not blocked_scheme(str(e.get("url", "")))
                ]
                if not allowed:
                    await self.navigate("about:blank")
                elif allowed[-1] is entries[index]:
                    # the refused URL made no history entry of its own: load the current again
                    await self.navigate(str(allowed[-1]["url"]))
                else:
                    entry = allowed[-1]["id"]
                    await self.page("Page.navigateToHistoryEntry", {"entryId": entry})
        except (CdpError, TimeoutError) as e:
            log.warning("could not leave a blocked page", extra={"error": str(e)})

    async def _history_when_attached(self, tries: int = 5) -> tuple[int, list[dict[str, Any]]]:
        """The page's history; the policy's error page moves the frame to another renderer,
        which detaches the page's session for a moment (`_reopen` attaches it again)."""
        for attempt in range(tries):
            try:
                return await self.history()
            except CdpError:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.2)
        raise AssertionError("unreachable")

    async def _settled(self, deadline_s: float) -> None:
        """Until the room's page has stopped loading (frameStartedLoading/StoppedLoading of its
        main frame) or `deadline_s` has passed; at least one event-loop round trip of the
        events already sent."""
        await asyncio.sleep(0.1)
        if self.loading:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped_loading.wait(), deadline_s)

    async def _reopen(self, why: str) -> None:
        """The room's page target is gone (or its session is): attach to it again if it is still
        there, else open a new window on the last page (about:blank for a page that keeps
        closing itself). The window is the stream: without it the room shows nothing."""
        if self._reopening or self.closed.done():
            return
        self._reopening = True
        old = self._target_id
        try:
            targets = (await self.call("Target.getTargets"))["targetInfos"]
            if any(t["targetId"] == old and t["type"] == "page" for t in targets):
                # Only the session went (the renderer was swapped): the same page again. A
                # target that is on its way out fails here and gets a new window below.
                with contextlib.suppress(CdpError, TimeoutError):
                    await self._attach_to(str(old))
                    log.warning("reattached to the room's page", extra={"why": why})
                    return
            now = asyncio.get_running_loop().time()
            self._reopen_times = [t for t in self._reopen_times if now - t < 60] + [now]
            url = str(self.status.get("url") or "")
            if not url.startswith(("http://", "https://")) or (
                len(self._reopen_times) > REOPEN_SAME_URL_PER_MINUTE
            ):
                url = "about:blank"
            res = await self.call("Target.createTarget", {"url": url, "newWindow": True})
            await self._attach_to(str(res["targetId"]))
            self.reopens += 1
            log.warning("room window was closed: reopened", extra={"why": why, "url": url})
        except (CdpError, TimeoutError, KeyError) as e:
            log.error("could not reopen the room's window", extra={"error": str(e)})
            if not self.closed.done():
                self.closed.set_exception(CdpError(f"room window lost: {e}"))
        finally:
            self._reopening = False

    # status -----------------------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.05)  # coalesce bursts of events
            self._dirty.clear()
            try:
                status = await self.read_status()
            except (CdpError, TimeoutError):
                continue
            if status != self.status:
                self.status = status
                await self.on_status(dict(status))

    async def report_now(self) -> None:
        """Read the status and report it if it changed, without waiting for an event: the start
        page may have committed before this connection subscribed to page events, and then no
        event would ever announce it."""
        status = await self.read_status()
        if status != self.status:
            self.status = status
            await self.on_status(dict(status))

    async def history(self) -> tuple[int, list[dict[str, Any]]]:
        res = await self.page("Page.getNavigationHistory")
        return int(res["currentIndex"]), list(res["entries"])

    async def read_status(self) -> dict[str, Any]:
        index, entries = await self.history()
        entry = entries[index] if 0 <= index < len(entries) else {}
        title = str(entry.get("title", ""))
        with contextlib.suppress(CdpError, TimeoutError):
            # Cut in the page: a title of megabytes never leaves it whole.
            res = await self.page(
                "Runtime.evaluate",
                {
                    "expression": f"String(document.title).slice(0, {TITLE_MAX_CHARS})",
                    "returnByValue": True,
                    "timeout": 1000,
                },
            )
            title = str(res.get("result", {}).get("value") or title)
        url, title = cap_status(str(entry.get("url", "")), title)
        return {
            "url": url,
            "title": title,
            "can_go_back": index > 0,
            "can_go_forward": index < len(entries) - 1,
            "loading": self.loading,
        }

    # commands ---------------------------------------------------------------------------------
    async def navigate(self, url: str) -> None:
        await self.page("Page.navigate", {"url": url})

    async def wipe(self) -> None:
        """Forget what this browser has seen: cookies, cache, and every visited origin's storage
        (local storage, IndexedDB, service workers, cache storage)."""
        _, entries = await self.history()
        origins = {_origin(e.get("url", "")) for e in entries} - {""}
        await self.page("Network.clearBrowserCookies")
        await self.page("Network.clearBrowserCache")
        for origin in sorted(origins):
            await self.page("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})

    async def open_as_first(self, url: str | None, deadline_s: float = 10) -> None:
        """Load `url` (None: stay) as if it were the first page: back leads nowhere."""
        if url:
            start, _ = await self.history()
            await self.navigate(url)
            # Wait for the new entry, or the reset would drop the page before it.
            for _ in range(int(deadline_s / 0.05)):
                # Mid-navigation the page may briefly be "not attached": ask again.
                with contextlib.suppress(CdpError, TimeoutError):
                    if (await self.history())[0] > start:
                        break
                await asyncio.sleep(0.05)
        await self.page("Page.resetNavigationHistory")
        self._dirty.set()  # no CDP event says the history changed; report it ourselves

    async def go(self, delta: int) -> bool:
        index, entries = await self.history()
        target = index + delta
        if not 0 <= target < len(entries):
            return False
        await self.page("Page.navigateToHistoryEntry", {"entryId": entries[target]["id"]})
        return True

    async def reload(self) -> None:
        await self.page("Page.reload", {"ignoreCache": False})

    async def evaluate(self, expression: str) -> Any:
        res = await self.page(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in res:
            raise CdpError(str(res["exceptionDetails"].get("text")))
        return res.get("result", {}).get("value")

    async def wait_loaded(self, *, blank_ok: bool, deadline_s: float = 20) -> None:
        """Until the page has loaded. Chromium's initial about:blank is "complete" before the
        start page from its command line commits: unless the start page is blank itself
        (`blank_ok`), that one does not count."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        check = "document.readyState === 'complete'"
        if not blank_ok:
            check += " && location.href !== 'about:blank'"
        while loop.time() < deadline:
            with contextlib.suppress(CdpError, TimeoutError):
                if await self.evaluate(check):
                    return
            await asyncio.sleep(0.1)
        raise CdpError("page did not finish loading")
