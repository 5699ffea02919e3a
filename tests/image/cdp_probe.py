"""Runs INSIDE the room container (the agent venv's python): drives Chromium over CDP.

Usage: python -c "$(cat cdp_probe.py)" PORT URL [URL ...]
Prints one JSON object per URL: the Page.navigate error text, the final location and whether
the page body looks like /etc/passwd.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
import urllib.request

from websockets.sync.client import connect


def main() -> None:
    port = int(sys.argv[1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
        targets = json.load(resp)
    page = next(t for t in targets if t.get("type") == "page")
    ids = itertools.count(1)
    with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=5) as ws:

        def call(method: str, **params: object) -> dict[str, object]:
            msg_id = next(ids)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv(timeout=15))
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        return {"cdp_error": msg["error"]}
                    return dict(msg.get("result", {}))

        call("Page.enable")
        for url in sys.argv[2:]:
            nav = call("Page.navigate", url=url)
            time.sleep(1.0)
            ev = call(
                "Runtime.evaluate",
                expression="JSON.stringify([location.href, document.body ? "
                "document.body.innerText.slice(0, 2000) : ''])",
                returnByValue=True,
            )
            remote = ev.get("result")
            value = remote.get("value") if isinstance(remote, dict) else None
            href, text = json.loads(value) if isinstance(value, str) else ("", "")
            print(
                json.dumps(
                    {
                        "url": url,
                        "errorText": nav.get("errorText", ""),
                        "cdp_error": nav.get("cdp_error"),
                        "href": href,
                        "looks_like_passwd": "root:x:0:0" in text,
                        "text": text[:300],
                    }
                ),
                flush=True,
            )


main()
