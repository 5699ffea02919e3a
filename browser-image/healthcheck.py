#!/usr/bin/env python3
"""Docker HEALTHCHECK for the room browser; standard library only, no agent cooperation needed.

Healthy when, among the processes of this container's user:
- an Xvfb server runs and accepts connections on the display Chromium uses,
- a PulseAudio server runs (unless WP_AUDIO is false),
- Chromium's DevTools endpoint on 127.0.0.1 answers /json/version.

The CDP port is read from Chromium's DevToolsActivePort file (the agent may let Chromium pick a
port), falling back to --remote-debugging-port and then WP_CDP_PORT (default 9222).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path

TIMEOUT_S = 3.0


def processes() -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process visible and readable by us."""
    out: list[tuple[int, list[str]]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            out.append((int(entry.name), raw.rstrip(b"\0").decode(errors="replace").split("\0")))
    return out


def exe_name(argv: list[str]) -> str:
    return os.path.basename(argv[0]) if argv else ""


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            env[key] = value
    return env


def flag(argv: list[str], name: str) -> str | None:
    prefix = f"--{name}="
    for arg in argv:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
    return None


def check_x(display: str) -> None:
    number = display.rpartition(":")[2].split(".")[0]
    if not number.isdigit():
        raise RuntimeError(f"cannot parse DISPLAY {display!r}")
    path = f"/tmp/.X11-unix/X{number}"
    errors = []
    for address in ("\0" + path, path):  # abstract socket first, like libxcb
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT_S)
            try:
                sock.connect(address)
                return
            except OSError as exc:
                errors.append(str(exc))
    raise RuntimeError(f"X display {display} not accepting connections: {errors}")


def check_cdp(port: int) -> str:
    url = f"http://127.0.0.1:{port}/json/version"
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        info = json.load(resp)
    if "webSocketDebuggerUrl" not in info:
        raise RuntimeError(f"unexpected /json/version answer: {info}")
    return str(info.get("Browser", "?"))


def main() -> int:
    procs = processes()
    xvfb = [p for p in procs if exe_name(p[1]) == "Xvfb"]
    pulse = [p for p in procs if exe_name(p[1]) == "pulseaudio"]
    # Chromium's browser process: the chromium binary without --type= (those are its children).
    browsers = [
        p for p in procs if exe_name(p[1]) in {"chromium", "chrome"} and flag(p[1], "type") is None
    ]
    problems: list[str] = []
    if not xvfb:
        problems.append("no Xvfb process")
    audio = os.environ.get("WP_AUDIO", "true").strip().lower() not in {"0", "false", "no", "off"}
    if audio and not pulse:
        problems.append("no pulseaudio process")
    if not browsers:
        problems.append("no chromium browser process")
    if problems:
        print("unhealthy: " + ", ".join(problems))
        return 1

    pid, argv = browsers[0]
    display = environ_of(pid).get("DISPLAY") or os.environ.get("DISPLAY") or ""
    port: int | None = None
    user_data_dir = flag(argv, "user-data-dir")
    if user_data_dir:
        try:
            port = int((Path(user_data_dir) / "DevToolsActivePort").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            port = None
    if port is None:
        value = flag(argv, "remote-debugging-port") or os.environ.get("WP_CDP_PORT") or "9222"
        port = int(value)
    try:
        if not display:
            raise RuntimeError("cannot find Chromium's DISPLAY")
        check_x(display)
        browser = check_cdp(port)
    except Exception as exc:
        print(f"unhealthy: {exc}")
        return 1
    print(f"healthy: display {display}, CDP 127.0.0.1:{port} ({browser})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
