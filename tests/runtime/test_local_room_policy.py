"""A real local room (`make run`'s mode: embedded storage, ROOM_RUNTIME=local) against its own
holder (issue 19 #1): Ctrl+O, F12, Ctrl+U, the address bar and a file:// URL of the server's
DATA_DIR/secrets.json, chrome://settings and view-source: never reach the room's page, whether
pressed, asked for, or forced through the browser itself; and the machine's own Chromium policy
(/etc/chromium) is not written."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import websockets

from tests.support.backends import embedded_settings
from tests.support.processes import kill_rooms, room_processes
from tests.support.rooms import create_room, live_server, room_socket
from tests.support.smtp import free_port
from tests.support.users import signed_in

pytestmark = pytest.mark.x11

SECRET = "do-not-show-secret-key-0123456789abcdef"
BLOCKED = ("file:", "chrome:", "view-source:", "devtools:")


def etc_snapshot() -> list[tuple[str, bytes]]:
    root = Path("/etc/chromium")
    if not root.exists():
        return []
    return sorted((str(p), p.read_bytes() if p.is_file() else b"") for p in root.rglob("*"))


def cdp_port_of(deployment: str, room_id: str) -> int:
    """The DevTools port of the room's Chromium (its profile's DevToolsActivePort)."""
    for proc in room_processes(deployment, room_id):
        try:
            args = proc.cmdline()
        except psutil.Error:  # a Chromium helper that just exited (a zombie until reaped)
            continue
        for arg in args:
            if arg.startswith("--user-data-dir="):
                port_file = Path(arg.split("=", 1)[1]) / "DevToolsActivePort"
                if port_file.exists():
                    return int(port_file.read_text().split()[0])
    raise AssertionError("the room's Chromium was not found")


async def pages(port: int) -> list[dict[str, Any]]:
    def get() -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            return json.loads(r.read())

    found = await asyncio.to_thread(get)
    return [t for t in found if t["type"] == "page" and ".top-chrome/" not in t["url"]]


async def on_page(port: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """`method` on the room's one page. The guard closes a page target on a blocked scheme
    and opens another: a connection to the page it closed ends, so the call is made again on
    the page there is then (a few times)."""
    for attempt in range(5):
        try:
            (page,) = await pages(port)
            async with websockets.connect(page["webSocketDebuggerUrl"], max_size=2**24) as ws:
                await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("id") == 1:
                        return dict(msg)
        except (websockets.exceptions.ConnectionClosed, ValueError):
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def page_text(port: int) -> str:
    res = await on_page(
        port,
        "Runtime.evaluate",
        {"expression": "document.body ? document.body.innerText : ''", "returnByValue": True},
    )
    return str(res.get("result", {}).get("result", {}).get("value") or "")


async def assert_clean(port: int) -> None:
    """One page, on no blocked scheme, not showing the secret (polled: the guard may need
    a moment to send a page back)."""
    for _ in range(50):
        found = await pages(port)
        if len(found) == 1 and not found[0]["url"].startswith(BLOCKED):
            break
        await asyncio.sleep(0.2)
    assert len(found) == 1, found
    assert not found[0]["url"].startswith(BLOCKED), found[0]["url"]
    assert SECRET not in await page_text(port)


async def test_a_local_rooms_holder_cannot_show_the_servers_files_or_chromiums_pages(
    tmp_path: Path,
) -> None:
    etc_before = etc_snapshot()
    data = tmp_path / "data"
    settings = await embedded_settings(
        data,
        ROOM_RUNTIME="local",
        AGENT_PORT=free_port(),
        REAPER_INTERVAL_SECONDS=3600,
        ROOM_PRESENCE_GRACE_SECONDS=0.2,
    )
    secrets = data / "secrets.json"
    secrets.write_text(json.dumps({"SECRET_KEY": SECRET}))
    try:
        async with live_server(settings, runtime=False) as live:
            host = await signed_in(live.http)
            room = await create_room(live.http, host.headers)
            sock = await room_socket(live.ws_url, room["code"], host.access_token)
            if sock.of_type("room.state")[-1]["data"]["room"]["status"] != "ready":
                await sock.expect("room.status", status="ready", within=120)
            room_id = str(sock.of_type("room.state")[-1]["data"]["room"]["id"])
            port = cdp_port_of(settings.deployment_id, room_id)
            await assert_clean(port)

            # The host holds the remote: the shortcuts, then typing the path into the (hidden)
            # address bar and Enter.
            for key, code, mods in (
                ("o", "KeyO", ["ctrl"]),
                ("F12", "F12", []),
                ("I", "KeyI", ["ctrl", "shift"]),
                ("u", "KeyU", ["ctrl"]),
                ("s", "KeyS", ["ctrl"]),
                ("p", "KeyP", ["ctrl"]),
                ("l", "KeyL", ["ctrl"]),
            ):
                await sock.send("browser.keypress", {"key": key, "code": code, "modifiers": mods})
            for ch in f"file://{secrets}":
                await sock.send("browser.keypress", {"key": ch, "code": "", "modifiers": []})
            await sock.send("browser.keypress", {"key": "Enter", "code": "Enter", "modifiers": []})
            await asyncio.sleep(2)
            await assert_clean(port)

            # Asking the room for them: refused by the URL policy.
            for url in (f"file://{secrets}", "chrome://settings", "view-source:http://a.example/"):
                await sock.send("browser.navigate", {"url": url})
                err = await sock.expect("error")
                assert err["data"]["type"] == "browser.navigate", err
            await assert_clean(port)

            # Forced through the browser itself, as an address bar would: the managed policy
            # refuses, and the guard leaves the blocked page.
            for url in (
                f"file://{secrets}",
                "chrome://settings",
                f"view-source:file://{secrets}",
                "devtools://devtools/bundled/inspector.html",
            ):
                for _ in range(5):
                    res = await on_page(port, "Page.navigate", {"url": url})
                    # ERR_ABORTED: the guard's own navigation away from the previous blocked
                    # page was still under way and took the place of this one; ask again
                    if res["result"].get("errorText") != "net::ERR_ABORTED":
                        break
                    await asyncio.sleep(0.5)
                assert res["result"].get("errorText") == "net::ERR_BLOCKED_BY_ADMINISTRATOR", res
                await assert_clean(port)
            await sock.close()
    except BaseException:
        # The room agent's log (its Chromium's exit, the guard's steps) goes with the failure:
        # pytest shows what a failed test printed.
        for log in sorted((data / "rooms").glob("*.log")):
            print(f"--- {log.name} (last 150 lines)")
            print("\n".join(log.read_text(errors="replace").splitlines()[-150:]))
        raise
    finally:
        kill_rooms(settings.deployment_id)
    assert etc_snapshot() == etc_before
