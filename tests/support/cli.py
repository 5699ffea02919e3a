"""The `watchparty` console script, run as a user would (a subprocess of this interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlplane.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
