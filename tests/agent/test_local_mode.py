"""Local mode: the agent owns Xvfb, PulseAudio and Chromium; nothing survives it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import psutil
import pytest

from tests.support.agent import AgentProcess, FakeControlPlane
from tests.support.waits import eventually

pytestmark = pytest.mark.x11

NAMES = ("Xvfb", "chromium", "pulseaudio", "parec", "chrome_crashpad")


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


async def _start(log_dir: Path) -> tuple[FakeControlPlane, AgentProcess]:
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, start_url=cp.page_url("page2.html"), width=640, height=360)
    await agent.start(log_dir)
    await cp.wait_type("ready", 45)
    return cp, agent


async def test_sigterm_leaves_no_processes_or_dirs(log_dir: Path) -> None:
    cp, agent = await _start(log_dir)
    assert agent.proc is not None
    pid = agent.proc.pid
    try:
        # the sound capture (parec) starts a moment after `ready` on a busy box
        kids = await eventually(
            lambda: _all_started(descendants(pid)), what="Xvfb, pulseaudio, parec and chromium"
        )
        tmpdirs = _profile_dirs(kids)
        assert tmpdirs and all(d.exists() for d in tmpdirs)
        rc = await agent.stop(signal.SIGTERM)
        assert rc == 0, agent.log_tail()
        _, alive = psutil.wait_procs(kids, timeout=5)
        assert not alive, [(p.pid, p.name()) for p in alive]
        assert not any(d.exists() for d in tmpdirs)
    finally:
        await _stop_everything(agent, pid)
        await cp.stop()


def _profile_dirs(kids: list[psutil.Process]) -> set[Path]:
    """The temporary directories holding Chromium's profile. A Chromium helper that has just
    exited (a zombie until Chromium reaps it) has no command line left to read: skip it, the
    browser process itself carries the same flag."""
    dirs = set()
    for p in kids:
        try:
            if "chrom" not in p.name():
                continue
            args = p.cmdline()
        except psutil.Error:
            continue
        dirs |= {Path(a.split("=", 1)[1]).parent for a in args if a.startswith("--user-data-dir=")}
    return dirs


def _all_started(kids: list[psutil.Process]) -> list[psutil.Process] | None:
    names = set()
    for p in kids:
        with contextlib.suppress(psutil.Error):
            names.add(p.name())
    if {"Xvfb", "pulseaudio", "parec"} <= names and any("chrom" in n for n in names):
        return kids
    return None


async def _stop_everything(agent: AgentProcess, pid: int) -> None:
    """A failed check must not leave the room's programs running (they skew every later test):
    the agent and whatever it started, by PID."""
    try:
        left = descendants(pid)
    except psutil.NoSuchProcess:
        left = []
    if agent.proc is not None and agent.proc.returncode is None:
        await agent.stop(signal.SIGKILL)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(left, timeout=5)


async def test_browser_death_is_fatal_and_cleaned_up(log_dir: Path) -> None:
    cp, agent = await _start(log_dir)
    assert agent.proc is not None
    pid = agent.proc.pid
    kids = descendants(pid)
    try:
        chromium = next(p for p in agent_children(pid) if "chrom" in p.name())
        os.kill(chromium.pid, signal.SIGKILL)
        rc = await asyncio.wait_for(agent.proc.wait(), 30)
        assert rc != 0
        _, alive = psutil.wait_procs(kids, timeout=5)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        await _stop_everything(agent, pid)
        for p in kids:  # the agent is gone: its children may have been left to init
            with contextlib.suppress(psutil.Error):
                p.kill()
        await cp.stop()


def agent_children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=False)
