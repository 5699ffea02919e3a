"""bench/networks.py at a small scale: one weak case (1.2 Mbit/s + 2 % loss) for a few seconds
beside the good viewer. Asserts what the harness does (the link is capped and lossy, both
viewers are measured, the report has the row, nothing is left behind), not the targets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import networks

pytestmark = [pytest.mark.x11, pytest.mark.timeout(240)]


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


async def test_one_weak_case_is_measured_and_cleaned_up(tmp_path: Path) -> None:
    if reason := networks.why_not_here():
        pytest.skip(reason)
    case = next(c for c in networks.CASES if c.kbps == 1200 and c.loss)
    before = namespaces()
    results = await networks.run([case], settle=2, seconds=5, hold=0, tmp=tmp_path)
    assert namespaces() - before == set(), "a namespace of the bench was left behind"
    (r,) = results
    assert r.weak is not None and r.good is not None, r.error
    # The cap held (tbf drops what is over it; 10 % for the burst and the window's edges).
    assert 0 < r.weak.kbps <= 1.1 * case.kbps, r.weak
    assert r.weak.lost > 0, r.weak  # over the cap and the random drops: something was lost
    assert r.good.fps_shown > 0 and r.good.height == 720, r.good
    assert r.agent.get("cpu_percent", 0) > 0, r.agent  # heartbeats were read for the window
    table = networks.report(results, seconds=5, settle=2)
    assert f"| {case.name} |" in table and "load average" in table and table.startswith("### ")
