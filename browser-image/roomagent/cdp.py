"""Chromium DevTools Protocol over loopback: navigation and browser.status reporting."""

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

_STATUS_EVENTS = {
    "Page.frameNavigated",
    "Page.navigatedWithinDocument",
    "Page.loadEventFired",
    "Page.domContentEventFired",
    "Page.frameStartedLoading",
    "Page.frameStoppedLoading",
    "Target.targetInfoChanged",
}


class CdpError(RuntimeError):
    pass


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
        self.status: dict[str, Any] = {}
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

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
        while True:
            targets = (await self.call("Target.getTargets"))["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                break
            if loop.time() > deadline:
                raise CdpError("no page target")
            await asyncio.sleep(0.1)
        self._target_id = pages[0]["targetId"]
        res = await self.call(
            "Target.attachToTarget", {"targetId": self._target_id, "flatten": True}
        )
        self._session = res["sessionId"]
        await self.page("Page.enable")
        await self.page("Runtime.enable")
        self._dirty.set()

    async def close(self) -> None:
        for task in (self._refresh, self._reader):
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
                self._on_event(msg.get("method", ""), msg.get("params", {}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("DevTools connection closed"))
            if not self.closed.done():
                self.closed.set_result(None)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method not in _STATUS_EVENTS:
            return
        if method == "Target.targetInfoChanged":
            if params.get("targetInfo", {}).get("targetId") != self._target_id:
                return
        elif method in ("Page.frameStartedLoading", "Page.frameStoppedLoading"):
            if params.get("frameId") != self._target_id:  # main frame id == target id
                return
            self.loading = method == "Page.frameStartedLoading"
        elif method == "Page.frameNavigated" and params.get("frame", {}).get("parentId"):
            return
        self._dirty.set()

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
        title = entry.get("title", "")
        with contextlib.suppress(CdpError, TimeoutError):
            res = await self.page(
                "Runtime.evaluate", {"expression": "document.title", "returnByValue": True}
            )
            title = res.get("result", {}).get("value") or title
        return {
            "url": entry.get("url", ""),
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
