"""Local mode: the agent owns Xvfb, PulseAudio and Chromium; nothing survives it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from tests.support.agent import AgentProcess, FakeControlPlane

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
    kids = descendants(agent.proc.pid)
    names = {p.name() for p in kids}
    assert {"Xvfb", "pulseaudio", "parec"} <= names and any("chrom" in n for n in names), names
    tmpdirs = {
        Path(a.split("=", 1)[1]).parent
        for p in kids
        if "chrom" in p.name()
        for a in p.cmdline()
        if a.startswith("--user-data-dir=")
    }
    assert tmpdirs and all(d.exists() for d in tmpdirs)
    rc = await agent.stop(signal.SIGTERM)
    assert rc == 0, agent.log_tail()
    _, alive = psutil.wait_procs(kids, timeout=5)
    assert not alive, [(p.pid, p.name()) for p in alive]
    assert not any(d.exists() for d in tmpdirs)
    await cp.stop()


async def test_browser_death_is_fatal_and_cleaned_up(log_dir: Path) -> None:
    cp, agent = await _start(log_dir)
    assert agent.proc is not None
    kids = descendants(agent.proc.pid)
    chromium = next(p for p in agent_children(agent.proc.pid) if "chrom" in p.name())
    os.kill(chromium.pid, signal.SIGKILL)
    rc = await asyncio.wait_for(agent.proc.wait(), 30)
    assert rc != 0
    _, alive = psutil.wait_procs(kids, timeout=5)
    assert not alive, [(p.pid, p.name()) for p in alive]
    await cp.stop()


def agent_children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=False)
