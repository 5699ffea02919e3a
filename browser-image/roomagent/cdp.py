"""Chromium DevTools Protocol over loopback: navigation, browser.status reporting, and the guard
that keeps the room's window open and off what the room must never show.

The guard holds in every runtime, with or without the managed policy
(browser-image/policies/watchparty.json): downloads are denied, a page's file chooser is
intercepted (never shown), a target on a blocked scheme (file:, chrome:, devtools:,
view-source:, ...) is closed, or, when it is the room's page, sent back (or to about:blank), and
when the room's page target goes away (the page called `window.close()`, a close shortcut
slipped through) a new window is opened and attached. Chromium runs with
`--keep-alive-for-test` (launcher.py) so that closing its last window does not end it.

Tabs (issue 22): every page target of the browser is a tab (`tabs.Tab`), attached on its own
session and guarded alike; the one on screen (`active`, brought to the front with
`Target.activateTarget`) is "the room's page": its session is the one navigation, history,
`browser.status` and the media watcher use. A page's new window (`target=_blank`,
`window.open`) is adopted as a tab and brought to the front, up to the cap; past it, closed.
Background tabs' media is muted (`tabs.MUTE_JS`). Concurrency: tab changes (open, switch,
close, adopt, a tab gone) run one at a time under `_tabs_lock`; events only spawn them.
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

from . import tabs as tabs_
from .tabs import Tab, TabRefused

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
    """One browser-level DevTools connection attached to every tab of the room's browser; the
    tab on screen is the room's page."""

    def __init__(
        self,
        port: int,
        on_status: StatusCallback,
        on_tabs: StatusCallback | None = None,
        max_tabs: int = 5,
    ) -> None:
        self.port = port
        self.on_status = on_status
        self.on_tabs = on_tabs
        self.max_tabs = max_tabs
        self._ws: Any = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        # The tab on screen: its session gets every page command.
        self._session: str | None = None
        self._target_id: str | None = None
        # Every tab, in strip order (insertion order), by target id.
        self._tabs: dict[str, Tab] = {}
        self._tabs_lock = asyncio.Lock()
        self._main_window: int | None = None
        self._reader: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._leaving = asyncio.Lock()  # the page is sent back from one blocked URL at a time
        self.status: dict[str, Any] = {}
        self.tabs_status: dict[str, Any] = {}
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Others' interest in events (the media watcher: iframe targets attached and detached).
        self.listeners: list[EventListener] = []
        # The guard's work, spawned from the reader (which must not wait on its own replies).
        self._guard_tasks: set[asyncio.Task[None]] = set()
        self._reopening = False
        self._reopen_times: list[float] = []
        # Counters (heartbeat): windows reopened, targets closed or sent back by the guard,
        # pages' new windows closed because the room's browser had all its tabs.
        self.reopens = 0
        self.guarded = 0
        self.tabs_refused = 0

    @property
    def loading(self) -> bool:
        """Whether the tab on screen is loading its page."""
        tab = self._tabs.get(self._target_id or "")
        return tab is not None and tab.loading

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
        async with self._tabs_lock:
            await self._attach_to(pages[0]["targetId"])
        with contextlib.suppress(CdpError, TimeoutError, KeyError):
            win = await self.call("Browser.getWindowForTarget", {"targetId": self._target_id})
            self._main_window = int(win["windowId"])

    async def _attach_to(self, target_id: str) -> None:
        """Make `target_id` the room's page: the session every page command goes to."""
        tab = await self._attach_tab(target_id)
        self._show(tab)

    async def _attach_tab(self, target_id: str) -> Tab:
        """Attach to a page target as one of the room's tabs (again, after its session went:
        same place in the strip, new session)."""
        res = await self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        session = str(res["sessionId"])
        tab = self._tabs.get(target_id)
        if tab is None:
            tab = self._tabs[target_id] = Tab(target_id, session)
        tab.session, tab.mute_script = session, None
        await self.call("Page.enable", None, session)
        # No `Runtime.enable`: sites look for it (what it makes DevTools do with their console),
        # and nothing here needs it: `Runtime.evaluate` works without it.
        await self.auto_attach(session)
        # A page's <input type=file> would open a dialog onto the machine's files: intercepted,
        # it opens nothing (the policy's AllowFileSelectionDialogs, again here).
        await self.call("Page.setInterceptFileChooserDialog", {"enabled": True}, session)
        with contextlib.suppress(CdpError, TimeoutError, KeyError):
            info = await self.call("Target.getTargetInfo", {"targetId": target_id})
            tab.set_info(info["targetInfo"])
        self._dirty.set()
        return tab

    def _show(self, tab: Tab) -> None:
        """`tab` is the room's page from now on (the caller brought it to the front)."""
        self._target_id, self._session = tab.target_id, tab.session
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
        self._guard(method, params, session)
        for listener in self.listeners:
            try:
                listener(method, params, session)
            except Exception:
                log.exception("DevTools event listener failed", extra={"event": method})
        if method not in _STATUS_EVENTS:
            return
        if method == "Target.targetInfoChanged":
            info = params.get("targetInfo", {})
            tab = self._tabs.get(str(info.get("targetId")))
            if tab is None:
                return
            tab.set_info(info)  # the tab strip's title and address
        elif method in ("Page.frameStartedLoading", "Page.frameStoppedLoading"):
            tab = self._tabs.get(str(params.get("frameId")))  # main frame id == target id
            if tab is None:
                return
            tab.loading = method == "Page.frameStartedLoading"
            if tab.loading:
                tab.stopped_loading.clear()
            else:
                tab.stopped_loading.set()
        elif method == "Page.frameNavigated" and params.get("frame", {}).get("parentId"):
            return
        self._dirty.set()

    # guard ------------------------------------------------------------------------------------
    def _guard(self, method: str, params: dict[str, Any], session: str | None = None) -> None:
        """Runs on the reader for every event: anything that needs a command is spawned."""
        if method in ("Target.targetCreated", "Target.targetInfoChanged"):
            info = params.get("targetInfo") or {}
            url = str(info.get("url", ""))
            # A prerendered page is listed as a page too (subtype "prerender"): not a window.
            if info.get("type") not in _CONTENT_TARGETS or _browser_ui(url) or info.get("subtype"):
                return
            if blocked_scheme(url):
                self._spawn(self._leave_blocked(str(info["targetId"]), url))
            elif method == "Target.targetCreated":
                # A page's new window (target=_blank, window.open) or the agent's own new tab.
                self._spawn(self._adopt(str(info["targetId"])))
        elif method == "Target.targetDestroyed":
            target = str(params.get("targetId"))
            if target == self._target_id:
                self._spawn(self._reopen("page target destroyed", target))
            elif target in self._tabs:
                del self._tabs[target]
                self._dirty.set()
        elif method == "Target.detachedFromTarget":
            gone = params.get("sessionId")
            if gone == self._session:
                self._spawn(self._reopen("page target detached", str(self._target_id), gone))
            else:
                tab = next((t for t in self._tabs.values() if t.session == gone), None)
                if tab is not None:
                    self._spawn(self._reattach(tab.target_id))

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
            if target_id not in self._tabs:
                # Not one of the room's tabs (yet): a window opened straight onto a blocked URL.
                await self.call("Target.closeTarget", {"targetId": target_id})
                return
            # A tab. Not while the navigation that brought the blocked URL is still under way:
            # sending the page elsewhere while the policy's error page takes the frame makes
            # Chromium stop on a CHECK (SIGTRAP, the room fails; about half the times a blocked
            # URL was forced through DevTools). Once the frame has stopped loading, look again:
            # if the page is still on a blocked scheme (the policy's error page keeps the
            # refused URL; a browser without the policy shows the page itself), it goes back to
            # its last allowed history entry, else to a blank page (a tab beside others that
            # never showed anything allowed is closed instead).
            # One at a time: blocked URLs forced in a row each spawn this; the later ones find
            # the page already sent back (or go on from where the earlier one left it).
            async with self._leaving:
                await self._settled(target_id, LEAVE_SETTLE_S)
                info = await self.call("Target.getTargetInfo", {"targetId": target_id})
                if not blocked_scheme(str(info["targetInfo"].get("url", ""))):
                    return
                index, entries = await self._history_when_attached(target_id)
                allowed = [
                    e for e in entries[: index + 1] if not blocked_scheme(str(e.get("url", "")))
                ]
                session = self._tabs[target_id].session
                if not allowed and len(self._tabs) > 1:
                    await self.close_tab(target_id)
                elif not allowed:
                    await self.navigate("about:blank", session)
                elif allowed[-1] is entries[index]:
                    # the refused URL made no history entry of its own: load the current again
                    await self.navigate(str(allowed[-1]["url"]), session)
                else:
                    entry = allowed[-1]["id"]
                    await self.call("Page.navigateToHistoryEntry", {"entryId": entry}, session)
        except (CdpError, TimeoutError, KeyError, TabRefused) as e:
            log.warning("could not leave a blocked page", extra={"error": str(e)})

    async def _history_when_attached(
        self, target_id: str, tries: int = 5
    ) -> tuple[int, list[dict[str, Any]]]:
        """A tab's history; the policy's error page moves the frame to another renderer, which
        detaches the tab's session for a moment (`_reopen`, `_reattach` attach it again)."""
        for attempt in range(tries):
            try:
                tab = self._tabs.get(target_id)
                if tab is None:
                    raise CdpError("the tab is gone")
                return await self.history(tab.session)
            except CdpError:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.2)
        raise AssertionError("unreachable")

    async def _settled(self, target_id: str, deadline_s: float) -> None:
        """Until the tab has stopped loading (frameStartedLoading/StoppedLoading of its main
        frame) or `deadline_s` has passed; at least one event-loop round trip of the events
        already sent."""
        await asyncio.sleep(0.1)
        tab = self._tabs.get(target_id)
        if tab is not None and tab.loading:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tab.stopped_loading.wait(), deadline_s)

    async def _reopen(self, why: str, target_id: str, session: str | None = None) -> None:
        """The room's page target is gone (or its session is): attach to it again if it is still
        there; else bring the next tab to the front; else open a new window on the last page
        (about:blank for a page that keeps closing itself). The window is the stream: without
        it the room shows nothing. Nothing to do once the tab on screen (or its session) is no
        longer the one that went: both events of one close spawn this."""
        if self._reopening or self.closed.done():
            return
        self._reopening = True
        try:
            async with self._tabs_lock:
                if self._target_id == target_id and session in (None, self._session):
                    await self._reopen_locked(why)
        except (CdpError, TimeoutError, KeyError) as e:
            log.error("could not reopen the room's window", extra={"error": str(e)})
            if not self.closed.done():
                self.closed.set_exception(CdpError(f"room window lost: {e}"))
        finally:
            self._reopening = False

    async def _reopen_locked(self, why: str) -> None:
        old = str(self._target_id)
        targets = (await self.call("Target.getTargets"))["targetInfos"]
        if any(t["targetId"] == old and t["type"] == "page" for t in targets):
            # Only the session went (the renderer was swapped): the same page again. A target
            # that is on its way out fails here and is replaced below.
            with contextlib.suppress(CdpError, TimeoutError):
                await self._attach_to(old)
                log.warning("reattached to the room's page", extra={"why": why})
                return
        following = tabs_.after_close(list(self._tabs), old)
        self._tabs.pop(old, None)
        if following is not None:
            await self._front(self._tabs[following])
            log.info("the tab on screen closed: the next one shown", extra={"why": why})
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
        with contextlib.suppress(CdpError, TimeoutError, KeyError):
            win = await self.call("Browser.getWindowForTarget", {"targetId": self._target_id})
            self._main_window = int(win["windowId"])
        self.reopens += 1
        log.warning("room window was closed: reopened", extra={"why": why, "url": url})

    # tabs -------------------------------------------------------------------------------------
    def tabs_state(self) -> dict[str, Any]:
        """`tabs.state`'s data: the tabs in strip order, the one on screen, the cap."""
        return tabs_.state(list(self._tabs.values()), self._target_id, self.max_tabs)

    async def open_tab(self, url: str | None) -> str:
        """Open a tab (on `url`, else blank) and bring it to the front; its target id. Raises
        `TabRefused` past the cap."""
        async with self._tabs_lock:
            if not tabs_.may_open(len(self._tabs), self.max_tabs):
                raise tabs_.refuse_full(self.max_tabs)
            res = await self.call(
                "Target.createTarget",
                {"url": url or "about:blank", "newWindow": False, "background": False},
            )
            tab = await self._attach_tab(str(res["targetId"]))
            await self._front(tab)
            log.info("tab opened", extra={"target": tab.target_id, "tabs": len(self._tabs)})
            return tab.target_id

    async def switch_tab(self, target_id: str) -> None:
        async with self._tabs_lock:
            await self._front(self._tab(target_id))

    async def close_tab(self, target_id: str) -> None:
        """Close a tab (the next one comes to the front if it was on screen); the last one
        stays (`TabRefused` "last_tab")."""
        async with self._tabs_lock:
            tab = self._tab(target_id)
            if len(self._tabs) == 1:
                raise TabRefused("last_tab", "The room's browser keeps at least one tab")
            if target_id == self._target_id:
                following = tabs_.after_close(list(self._tabs), target_id)
                await self._front(self._tabs[str(following)])
            del self._tabs[tab.target_id]
            self._dirty.set()
            with contextlib.suppress(CdpError, TimeoutError):
                await self.call("Target.closeTarget", {"targetId": target_id})
            log.info("tab closed", extra={"target": target_id, "tabs": len(self._tabs)})

    def _tab(self, target_id: str) -> Tab:
        tab = self._tabs.get(target_id)
        if tab is None:
            raise TabRefused("no_such_tab", "The room's browser has no such tab")
        return tab

    async def _adopt(self, target_id: str) -> None:
        """A new page target: the agent's own new tab (a tab already: nothing to do), or a
        page's new window (`target=_blank`, `window.open`), which becomes a tab on screen, or
        is closed when the room's browser has all its tabs."""
        async with self._tabs_lock:
            if target_id in self._tabs or self.closed.done() or self._target_id is None:
                return
            try:
                if not tabs_.may_open(len(self._tabs), self.max_tabs):
                    self.tabs_refused += 1
                    log.warning(
                        "a page's new window was closed: the room's browser has all its tabs",
                        extra={"target": target_id, "max_tabs": self.max_tabs},
                    )
                    await self.call("Target.closeTarget", {"targetId": target_id})
                    return
                tab = await self._attach_tab(target_id)
                with contextlib.suppress(CdpError, TimeoutError, KeyError):
                    await self._fit_window(target_id)
                await self._front(tab)
                log.info("a page's new window became a tab", extra={"target": target_id})
            except (CdpError, TimeoutError, KeyError) as e:
                # Gone meanwhile (closed by the page, or by the guard: a blocked URL).
                log.info("a new window went before it was a tab", extra={"error": str(e)})
                if self._tabs.pop(target_id, None) is not None:
                    self._dirty.set()

    async def _reattach(self, target_id: str) -> None:
        """A background tab's session went (its renderer was swapped): attach again, muted."""
        async with self._tabs_lock:
            if target_id not in self._tabs or target_id == self._target_id:
                return
            try:
                tab = await self._attach_tab(target_id)
                await self._mute(tab, True)
            except (CdpError, TimeoutError, KeyError):
                self._tabs.pop(target_id, None)  # gone: its targetDestroyed may have been missed
                self._dirty.set()

    async def _fit_window(self, target_id: str) -> None:
        """A page's pop-up opens a window of its own: it gets the room window's place and size,
        so that on screen it is the room's picture like any tab."""
        if self._main_window is None:
            return
        win = await self.call("Browser.getWindowForTarget", {"targetId": target_id})
        window = int(win["windowId"])
        if window == self._main_window:
            return
        main = await self.call("Browser.getWindowBounds", {"windowId": self._main_window})
        bounds = dict(main["bounds"])
        state = bounds.pop("windowState", "normal")
        with contextlib.suppress(CdpError):
            await self.call("Browser.setWindowBounds", {"windowId": window, "bounds": bounds})
        if state != "normal":
            with contextlib.suppress(CdpError):
                await self.call(
                    "Browser.setWindowBounds",
                    {"windowId": window, "bounds": {"windowState": state}},
                )

    async def _front(self, tab: Tab) -> None:
        """Bring `tab` to the front (the capture shows the screen) and make it the room's page;
        every other tab's media is muted, its own is not."""
        await self.call("Target.activateTarget", {"targetId": tab.target_id})
        self._show(tab)
        await self._mute(tab, False)
        for other in list(self._tabs.values()):
            if other is not tab:
                await self._mute(other, True)

    async def _mute(self, tab: Tab, on: bool) -> None:
        """Mute a background tab's media (now and in every document it loads), or unmute what
        that muted. Best effort: a tab between renderers is muted again when reattached."""
        try:
            if on and tab.mute_script is None:
                res = await self.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    {
                        "source": tabs_.MUTE_JS,
                        "worldName": tabs_.MUTE_WORLD,
                        "runImmediately": True,
                    },
                    tab.session,
                )
                tab.mute_script = str(res["identifier"])
            elif not on and tab.mute_script is not None:
                script, tab.mute_script = tab.mute_script, None
                await self.call(
                    "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script}, tab.session
                )
                res = await self.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    {
                        "source": tabs_.UNMUTE_JS,
                        "worldName": tabs_.MUTE_WORLD,
                        "runImmediately": True,
                    },
                    tab.session,
                )
                await self.call(
                    "Page.removeScriptToEvaluateOnNewDocument",
                    {"identifier": res["identifier"]},
                    tab.session,
                )
        except (CdpError, TimeoutError, KeyError) as e:
            log.warning("could not mute or unmute a tab", extra={"error": str(e), "on": on})

    # status -----------------------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.05)  # coalesce bursts of events
            self._dirty.clear()
            await self._report_tabs()
            try:
                status = await self.read_status()
            except (CdpError, TimeoutError):
                continue
            if status != self.status:
                self.status = status
                await self.on_status(dict(status))

    async def _report_tabs(self) -> None:
        # Titles and addresses as the browser has them now (a title set by the page's script
        # raises no event of its own; one that came before the tab was attached is missed).
        with contextlib.suppress(CdpError, TimeoutError, KeyError):
            for info in (await self.call("Target.getTargets"))["targetInfos"]:
                tab = self._tabs.get(str(info.get("targetId")))
                if tab is not None:
                    tab.set_info(info)
        tabs = self.tabs_state()
        if tabs != self.tabs_status and self.on_tabs is not None:
            self.tabs_status = tabs
            await self.on_tabs(dict(tabs))

    async def report_now(self) -> None:
        """Read the status and report it if it changed, without waiting for an event: the start
        page may have committed before this connection subscribed to page events, and then no
        event would ever announce it."""
        await self._report_tabs()
        status = await self.read_status()
        if status != self.status:
            self.status = status
            await self.on_status(dict(status))

    async def history(self, session: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """The navigation history of a tab (`session`; None: the one on screen)."""
        res = await self.call("Page.getNavigationHistory", None, session or self._session)
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
    async def navigate(self, url: str, session: str | None = None) -> None:
        """Load `url` in a tab (`session`; None: the one on screen)."""
        await self.call("Page.navigate", {"url": url}, session or self._session)

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
