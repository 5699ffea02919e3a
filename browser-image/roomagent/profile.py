"""The host's browser profile in the room's browser ("Keep my browser profile", issue 22).

The agent holds no credentials to where profiles are kept: it loads and saves its room host's
profile through the control plane's agent listener with its own per-room secret
(`GET`/`PUT /internal/agents/profile`, docs/protocol.md "Browser profile"), which seals it.

What a profile is here: the browser's cookies (all of them, `Storage.getCookies` at the browser
level, httpOnly ones included) and the local storage of the origins the room's page showed. Both
go through the DevTools protocol rather than Chromium's files: a running browser, a warm-pool one
included, takes a profile without a restart, and reading never races Chromium's own writes to its
SQLite and LevelDB files (which a file copy would have to stop or flush it for).

Local storage is read in an isolated world of the page's main frame (the page's own JavaScript
cannot change what is read, nor claim another origin), and written back lazily: a script in an
isolated world, run on every new document before the page's own, sets the saved keys of that
document's origin that are not there yet, once per tab (a marker in session storage). An origin
whose page is not open at a save keeps what was saved of it before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("roomagent.profile")

PROFILE_PATH = "/internal/agents/profile"
WORLD = "wp-profile"
# The fields of `Storage.getCookies`' cookies that `Storage.setCookies` takes back.
COOKIE_FIELDS = (
    "name",
    "value",
    "domain",
    "path",
    "expires",
    "httpOnly",
    "secure",
    "sameSite",
    "priority",
    "sourceScheme",
    "sourcePort",
    "partitionKey",
)
SEEDED_MARK = "__wp_profile_seeded"
READ_LOCAL_STORAGE = """(() => {
  const items = {};
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      items[k] = localStorage.getItem(k);
    }
  } catch (e) { return null; }
  return {origin: location.origin, items};
})()"""


class CdpLike(Protocol):
    """What this module needs of `cdp.Browser`."""

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any: ...

    async def page(self, method: str, params: dict[str, Any] | None = None) -> Any: ...


class ProfileStoreError(RuntimeError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


def profile_url(control_url: str) -> str:
    """The profile endpoint on the agent listener the agent's socket dials (ws → http)."""
    parts = urlsplit(control_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, PROFILE_PATH, "", ""))


def cookie_params(cookies: list[dict[str, Any]], *, now: float) -> list[dict[str, Any]]:
    """The cookies `Storage.setCookies` takes, from a saved list: known fields only, expired
    ones dropped (a session cookie, `expires` -1, is kept)."""
    out = []
    for c in cookies:
        if not isinstance(c, dict) or not c.get("name") or not c.get("domain"):
            continue
        expires = c.get("expires", -1)
        if isinstance(expires, (int, float)) and 0 < expires < now:
            continue
        param = {k: c[k] for k in COOKIE_FIELDS if k in c}
        if not isinstance(expires, (int, float)) or expires <= 0:
            param.pop("expires", None)  # a session cookie: `setCookies` takes no expiry for one
        if isinstance(param.get("partitionKey"), str):  # older form: a top-level site string
            param["partitionKey"] = {
                "topLevelSite": param["partitionKey"],
                "hasCrossSiteAncestor": False,
            }
        out.append(param)
    return out


def seed_script(local_storage: Mapping[str, Mapping[str, str]]) -> str:
    """The script run in an isolated world of every new document: the saved local storage of
    its origin, the keys not already there, once per tab."""
    data = json.dumps({o: dict(items) for o, items in local_storage.items() if items})
    return f"""(() => {{
  const saved = {data};
  try {{
    const items = saved[location.origin];
    if (!items || sessionStorage.getItem({json.dumps(SEEDED_MARK)})) return;
    for (const [k, v] of Object.entries(items)) {{
      if (localStorage.getItem(k) === null) localStorage.setItem(k, v);
    }}
    sessionStorage.setItem({json.dumps(SEEDED_MARK)}, "1");
  }} catch (e) {{}}
}})();"""


class ProfileStore:
    """The control plane's profile endpoint, with the room's credentials."""

    def __init__(self, control_url: str, room_id: str, secret: str, timeout_s: float = 10) -> None:
        self.url = profile_url(control_url)
        self.auth = f"Agent {room_id}:{secret}"
        self.timeout_s = timeout_s

    def _request(self, method: str, body: bytes | None = None) -> bytes:
        req = urllib.request.Request(self.url, data=body, method=method)
        req.add_header("Authorization", self.auth)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())
            except ValueError:
                err = {}
            raise ProfileStoreError(
                e.code, str(err.get("code", "error")), str(err.get("detail", e.reason))
            ) from None

    async def fetch(self) -> dict[str, Any]:
        """`{profile, refused, detail}`: the profile to load (None: start clean)."""
        raw = await asyncio.to_thread(self._request, "GET")
        data = json.loads(raw)
        return data if isinstance(data, dict) else {}

    async def store(self, profile: dict[str, Any]) -> int:
        body = json.dumps(profile, separators=(",", ":")).encode()
        await asyncio.to_thread(self._request, "PUT", body)
        return len(body)


async def read_local_storage(browser: CdpLike) -> tuple[str, dict[str, str]] | None:
    """(origin, items) of the page's main frame, read in an isolated world; None off http(s)."""
    tree = await browser.page("Page.getFrameTree")
    frame_id = tree["frameTree"]["frame"]["id"]
    world = await browser.page(
        "Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD}
    )
    res = await browser.page(
        "Runtime.evaluate",
        {
            "expression": READ_LOCAL_STORAGE,
            "contextId": world["executionContextId"],
            "returnByValue": True,
        },
    )
    value = res.get("result", {}).get("value")
    if not isinstance(value, dict) or not str(value.get("origin", "")).startswith("http"):
        return None
    items = value.get("items") or {}
    return str(value["origin"]), {str(k): str(v) for k, v in items.items()}


class ProfileSync:
    """The room's profile: loaded once (before the first page), saved every `save_s` and once
    more at the end (`stop`). One save at a time."""

    def __init__(self, browser: CdpLike, store: ProfileStore, save_s: float) -> None:
        self.browser = browser
        self.store = store
        self.save_s = save_s
        self.local: dict[str, dict[str, str]] = {}
        self._lock = asyncio.Lock()
        self._loop: asyncio.Task[None] | None = None
        self._last: asyncio.Task[bool] | None = None
        # Figures (logs, bench): the last load's and save's time and size.
        self.load_ms: float | None = None
        self.save_ms: float | None = None
        self.saved_bytes: int | None = None

    async def load(self, tries: int = 3) -> str:
        """Put the saved profile into the browser. `loaded`; `none` (nothing saved) or
        `refused` (damaged or too large: the control plane said why, logged here too): the room
        starts clean and saves from then on; `failed` (the control plane could not be asked):
        the room starts clean and must never save, or it would replace the user's profile with
        an empty one."""
        t0 = time.perf_counter()
        answer: dict[str, Any] | None = None
        for attempt in range(tries):
            try:
                answer = await self.store.fetch()
                break
            except (OSError, ProfileStoreError, ValueError) as e:
                log.warning("browser profile not fetched: %s", e, extra={"attempt": attempt + 1})
                await asyncio.sleep(0.5 * (attempt + 1))
        if answer is None:
            log.error("browser profile not loaded: the room starts clean and will not save it")
            return "failed"
        profile = answer.get("profile")
        if not isinstance(profile, dict):
            if answer.get("refused"):
                log.error(
                    "browser profile refused, the room starts clean",
                    extra={"code": answer.get("refused"), "detail": answer.get("detail")},
                )
                return "refused"
            return "none"
        await self.apply(profile)
        self.load_ms = (time.perf_counter() - t0) * 1000
        log.info(
            "browser profile loaded",
            extra={"ms": round(self.load_ms, 1), "cookies": len(profile.get("cookies") or [])},
        )
        return "loaded"

    async def apply(self, profile: dict[str, Any]) -> None:
        cookies = cookie_params(list(profile.get("cookies") or []), now=time.time())
        if cookies:
            try:
                await self.browser.call("Storage.setCookies", {"cookies": cookies})
            except Exception:
                # One cookie Chromium refuses fails the whole call: then one at a time.
                refused = 0
                for cookie in cookies:
                    try:
                        await self.browser.call("Storage.setCookies", {"cookies": [cookie]})
                    except Exception:
                        refused += 1
                log.warning("saved cookies refused by the browser", extra={"refused": refused})
        local = profile.get("local_storage") or {}
        self.local = {
            str(o): {str(k): str(v) for k, v in items.items()}
            for o, items in local.items()
            if isinstance(items, dict)
        }
        if self.local:
            await self.browser.page(
                "Page.addScriptToEvaluateOnNewDocument",
                {"source": seed_script(self.local), "worldName": WORLD},
            )

    async def collect(self) -> dict[str, Any]:
        """The profile as the browser has it now."""
        cookies = (await self.browser.call("Storage.getCookies")).get("cookies") or []
        try:
            current = await read_local_storage(self.browser)
        except Exception as e:  # a page mid-navigation: its origin keeps what was saved
            log.info("local storage not read this time: %s", e)
            current = None
        if current is not None:
            origin, items = current
            if items:
                self.local[origin] = items
            else:
                self.local.pop(origin, None)
        kept = [{k: c[k] for k in COOKIE_FIELDS if k in c} for c in cookies]
        return {"version": 1, "cookies": kept, "local_storage": self.local}

    async def save(self) -> bool:
        async with self._lock:
            t0 = time.perf_counter()
            try:
                profile = await self.collect()
                self.saved_bytes = await self.store.store(profile)
            except ProfileStoreError as e:
                log.error("browser profile not saved: %s", e, extra={"code": e.code})
                return False
            except Exception as e:
                log.warning("browser profile not saved: %r", e)
                return False
            self.save_ms = (time.perf_counter() - t0) * 1000
            log.info(
                "browser profile saved",
                extra={"ms": round(self.save_ms, 1), "bytes": self.saved_bytes},
            )
            return True

    def start(self) -> None:
        self._loop = asyncio.create_task(self._every(), name="profile-save")

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.save_s)
            await self.save()

    def last_save(self) -> asyncio.Task[bool]:
        """The last save, once: started by `room.ended` (before the runtime stops the room: a
        pod's deletion does not wait), awaited again by `stop`."""
        if self._last is None:
            if self._loop is not None:
                self._loop.cancel()
            self._last = asyncio.create_task(self.save(), name="profile-last-save")
        return self._last

    async def stop(self) -> None:
        """As the agent stops (before the browser does): the last save, if `room.ended` did
        not start it already."""
        await asyncio.shield(self.last_save())
