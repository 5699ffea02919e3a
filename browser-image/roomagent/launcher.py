"""Starts and supervises Xvfb, PulseAudio and Chromium for one room (local mode and container).

Every child runs in its own process group with a parent-death signal, so neither a clean exit nor
a crash of the agent leaves stray processes. Profile and runtime dirs are private temp dirs that
are removed on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from . import policyns
from .config import AgentSettings

log = logging.getLogger("roomagent.launcher")

_PR_SET_PDEATHSIG = 1
# Where `roomagent` is imported from: the policy wrapper runs as `python -m roomagent.policyns`.
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def child_setup() -> Callable[[], None]:
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        # Die with the agent even if it is SIGKILLed.
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return setup


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data


class LaunchError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    pgid: int


# The X screen is this many pixels wider and taller than the room's picture. With no window
# manager, Chromium's kiosk window cannot go fullscreen and Chromium keeps a window the size of
# the whole screen one pixel short each way (a 1280x720 screen gave a 1279x719 page, and every
# room streamed a column and a row that were not the page). On a screen one pixel larger, a
# window the screen's size comes out at exactly the picture's size at 0,0, and the capture
# grabs that picture (width x height from 0,0; the extra column and row are never streamed).
SCREEN_MARGIN = 1


@dataclass
class Launched:
    display: str
    pulse_server: str | None
    cdp_port: int
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    # How the room's browser policy reaches Chromium (`policy_plan`): "installed" (the image's
    # /etc/chromium/policies/managed), "namespace" (policyns.py), or "unavailable: <why>".
    policy: str = ""


def policy_source(settings: AgentSettings) -> Path | None:
    """The room's browser policy: WP_POLICY_FILE, else the JSON beside the agent's code
    (browser-image/policies/watchparty.json in a checkout, roomagent/policies/ in a wheel)."""
    if settings.policy_file:
        return Path(settings.policy_file)
    return policyns.default_policy()


def _without_host_entries(source: Path, dest: Path) -> Path:
    """A copy of the policy whose URLBlocklist keeps only its scheme entries (`file://*`, ...):
    what a deployment that lets rooms open private addresses (WP_ALLOW_PRIVATE_URLS) runs."""
    policy = json.loads(source.read_text())
    policy["URLBlocklist"] = [e for e in policy.get("URLBlocklist", []) if "://" in e or ":*" in e]
    dest.write_text(json.dumps(policy, indent=2))
    return dest


def policy_installed(source: Path | None) -> bool:
    """The machine's managed policy already is the room's (the image installs it): a policy
    file of ours there, equal to the source when there is one."""
    installed = policyns.MANAGED_DIR / policyns.POLICY_NAME
    if not installed.is_file():
        return False
    return source is None or not source.is_file() or installed.read_bytes() == source.read_bytes()


def chromium_args(
    settings: AgentSettings, profile: Path, display_env: dict[str, str], as_root: bool
) -> list[str]:
    args = [
        settings.chromium,
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={settings.cdp_port}",
        "--remote-debugging-address=127.0.0.1",
        "--kiosk",
        "--window-position=0,0",
        # The screen's size (see SCREEN_MARGIN): Chromium shrinks a window the size of the whole
        # screen by one pixel each way, which leaves the page exactly width x height at 0,0.
        f"--window-size={settings.width + SCREEN_MARGIN},{settings.height + SCREEN_MARGIN}",
        "--autoplay-policy=no-user-gesture-required",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-renderer-backgrounding",
        "--disable-features=Translate,MediaRouter,DialMediaRouteProvider",
        "--disable-session-crashed-bubble",
        "--noerrdialogs",
        "--password-store=basic",
        "--use-mock-keychain",
        "--test-type",
        "--disable-gpu",
        # Closing the last window (the page's `window.close()`, a close shortcut) must not end
        # the browser: the agent opens a new window instead (cdp.py, `Browser._reopen`).
        "--keep-alive-for-test",
    ]
    if as_root:
        args.append("--no-sandbox")
    if settings.blocked_hosts:
        # Every connection the browser makes (navigation, fetch, WebSocket) resolves its host
        # through these rules first, IP literals included, and a `host:port` pattern matches
        # that port only. The image's URLBlocklist policy is a root-owned file the agent (uid
        # 1000) cannot extend with a deployment's addresses.
        rules = ", ".join(f"MAP {host} ~NOTFOUND" for host in settings.blocked_hosts)
        args.append(f"--host-resolver-rules={rules}")
    # Chromium reads only the last --disable-features: merge extra ones into the one above.
    for extra in settings.chromium_extra_args:
        if extra.startswith("--disable-features="):
            i = next(i for i, a in enumerate(args) if a.startswith("--disable-features="))
            args[i] += "," + extra.split("=", 1)[1]
        else:
            args.append(extra)
    args.append(settings.start_url)
    return args


class Launcher:
    """Owns the room's X server, sound server and browser processes."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._tmp: Path | None = None
        self.launched: Launched | None = None

    async def start(self) -> Launched:
        s = self.settings
        self._tmp = Path(tempfile.mkdtemp(prefix="wp-room-", dir=s.profile_dir))
        runtime = self._tmp / "run"
        profile = self._tmp / "profile"
        runtime.mkdir(mode=0o700)
        profile.mkdir(mode=0o700)
        env = dict(os.environ)
        env.pop("WP_AGENT_SECRET", None)
        launched = Launched(display="", pulse_server=None, cdp_port=0, env=env)
        self.launched = launched
        try:
            for attempt in range(3):
                try:
                    launched.display = await self._start_xvfb(launched)
                    break
                except LaunchError as e:
                    # another X server can race us for the same display number: retry
                    log.warning("Xvfb failed to start", extra={"error": str(e)})
                    failed = launched.children.pop()
                    await self._kill(failed)
                    if attempt == 2:
                        raise
            env["DISPLAY"] = launched.display
            env["XDG_RUNTIME_DIR"] = str(runtime)
            if s.audio:
                launched.pulse_server = await self._start_pulse(launched, runtime)
                env["PULSE_SERVER"] = launched.pulse_server
            env["HOME"] = str(self._tmp)
            launched.cdp_port = await self._start_chromium(launched, profile)
        except BaseException:
            await self.stop()
            raise
        return launched

    async def _spawn(self, launched: Launched, name: str, argv: list[str], **kw: object) -> Child:
        assert self._tmp is not None
        logfile = (self._tmp / f"{name}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=logfile,
            stderr=logfile,
            start_new_session=True,
            preexec_fn=child_setup(),
            **kw,  # type: ignore[arg-type]
        )
        logfile.close()
        child = Child(name=name, proc=proc, pgid=proc.pid)
        launched.children.append(child)
        log.info("started %s", name, extra={"pid": proc.pid})
        return child

    async def _start_xvfb(self, launched: Launched) -> str:
        s = self.settings
        rfd, wfd = os.pipe()
        try:
            await self._spawn(
                launched,
                "xvfb",
                [
                    "Xvfb",
                    "-displayfd",
                    str(wfd),
                    "-screen",
                    "0",
                    f"{s.width + SCREEN_MARGIN}x{s.height + SCREEN_MARGIN}x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                    "+extension",
                    "XFIXES",
                    "+extension",
                    "XTEST",
                ],
                pass_fds=(wfd,),
            )
        finally:
            os.close(wfd)
        loop = asyncio.get_running_loop()
        try:
            # Xvfb writes the number and the newline separately: read up to the newline, or it
            # dies with EPIPE when we close the pipe too early.
            data = await asyncio.wait_for(loop.run_in_executor(None, _read_line, rfd), 10)
        except TimeoutError:
            raise LaunchError("Xvfb did not report a display number") from None
        finally:
            os.close(rfd)
        if not data.strip():
            raise LaunchError("Xvfb did not report a display number")
        display = ":" + data.decode().strip()
        await asyncio.sleep(0.1)
        self._check_alive(launched)
        return display

    async def _start_pulse(self, launched: Launched, runtime: Path) -> str:
        s = self.settings
        socket_path = runtime / "pulse-native"
        script = runtime / "default.pa"
        script.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket_path}\n"
            f"load-module module-null-sink sink_name={s.pulse_sink} rate=48000 channels=2\n"
            f"set-default-sink {s.pulse_sink}\n"
        )
        env = dict(launched.env, XDG_RUNTIME_DIR=str(runtime), HOME=str(runtime))
        await self._spawn(
            launched,
            "pulseaudio",
            [
                "pulseaudio",
                "-n",
                "-F",
                str(script),
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disable-shm=yes",
                "--use-pid-file=no",
                "--system=no",
                "--log-level=error",
            ],
            env=env,
        )
        for _ in range(200):
            if socket_path.exists():
                return f"unix:{socket_path}"
            self._check_alive(launched)
            await asyncio.sleep(0.025)
        raise LaunchError("PulseAudio did not create its socket")

    async def _policy_plan(self, launched: Launched) -> list[str]:
        """How Chromium gets the room's browser policy; returns the command prefix to run it
        under (empty: none). Never silent: a browser without it is logged as an error and
        reported to the control plane (agent.py)."""
        assert self._tmp is not None
        source = policy_source(self.settings)
        if policy_installed(source):
            launched.policy = "installed"
            return []
        if source is None or not source.is_file():
            launched.policy = f"unavailable: no policy file ({source or 'WP_POLICY_FILE'})"
            return []
        if self.settings.allow_private_urls:
            source = _without_host_entries(source, self._tmp / "policy.json")
        wrapper = [sys.executable, "-m", "roomagent.policyns"]
        env = dict(launched.env, WP_POLICY_STAGE=str(self._tmp))
        package_root = str(_PACKAGE_ROOT)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        proc = await asyncio.create_subprocess_exec(
            *wrapper,
            "--check",
            str(source),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            why = err.decode(errors="replace").strip().splitlines()[-1:] or [
                f"exit {proc.returncode}"
            ]
            launched.policy = f"unavailable: {why[0]}"
            return []
        launched.env.update(WP_POLICY_STAGE=env["WP_POLICY_STAGE"], PYTHONPATH=env["PYTHONPATH"])
        launched.policy = "namespace"
        return [*wrapper, str(source), "--"]

    async def _start_chromium(self, launched: Launched, profile: Path) -> int:
        prefix = await self._policy_plan(launched)
        if launched.policy.startswith("unavailable"):
            log.error(
                "room browser runs WITHOUT its managed policy (the agent's guard and key policy "
                "still apply)",
                extra={"policy": launched.policy},
            )
        else:
            log.info("room browser policy", extra={"policy": launched.policy})
        argv = prefix + chromium_args(self.settings, profile, launched.env, os.geteuid() == 0)
        await self._spawn(
            launched,
            "chromium",
            argv,
            env=launched.env,
        )
        if self.settings.cdp_port:
            return self.settings.cdp_port  # the CDP client polls until it answers
        port_file = profile / "DevToolsActivePort"
        for _ in range(600):
            if port_file.exists():
                text = port_file.read_text().split()
                if text:
                    return int(text[0])
            self._check_alive(launched)
            await asyncio.sleep(0.05)
        raise LaunchError("Chromium did not open its DevTools port")

    def _check_alive(self, launched: Launched) -> None:
        for child in launched.children:
            if child.proc.returncode is not None:
                raise LaunchError(
                    f"{child.name} exited with {child.proc.returncode}: {self.log_tail(child.name)}"
                )

    def log_tail(self, name: str, lines: int = 15) -> str:
        if self._tmp is None:
            return ""
        path = self._tmp / f"{name}.log"
        try:
            return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_any_exit(self) -> Child:
        """Return the first child that exits (the caller treats it as fatal)."""
        assert self.launched is not None
        children = self.launched.children
        waits = {asyncio.ensure_future(c.proc.wait()): c for c in children}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
        return waits[next(iter(done))]

    async def stop(self) -> None:
        launched = self.launched
        if launched is not None:
            for child in reversed(launched.children):
                if child.proc.returncode is not None:
                    self._log_exit(child)
                await self._kill(child)
            launched.children.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _log_exit(self, child: Child) -> None:
        """A child that exited by itself (the room is failing because of it): the end of its own
        output goes into the agent's log before the room's temporary directory is removed,
        e.g. Chromium's CHECK message when it stops on SIGTRAP."""
        tail: list[str] = []
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                with (self._tmp / f"{child.name}.log").open("rb") as f:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - 4096))
                    tail = f.read().decode("utf-8", "replace").splitlines()[-15:]
        log.warning(
            "%s exited by itself",
            child.name,
            extra={"rc": child.proc.returncode, "output": "\n".join(tail)},
        )

    async def _kill(self, child: Child) -> None:
        # Collect descendants first: some may have left the process group.
        try:
            descendants = psutil.Process(child.proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pgid, sig)
            for d in descendants:
                with contextlib.suppress(psutil.Error):
                    d.send_signal(sig)
            try:
                await asyncio.wait_for(child.proc.wait(), 3 if sig == signal.SIGTERM else 5)
                _, alive = psutil.wait_procs(descendants, timeout=1)
                if not alive:
                    break
            except TimeoutError:
                continue
        log.info("stopped %s", child.name, extra={"rc": child.proc.returncode})
