"""The served app's startup heap is kept out of the collector's walks (controlplane/heap.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_the_served_app_freezes_what_it_built_and_still_collects_new_garbage(
    tmp_path: Path,
) -> None:
    # A fresh interpreter: freezing is per process, and the test runner's heap must stay as is.
    script = textwrap.dedent(
        """
        import gc
        from controlplane.main import app_factory

        app_factory()  # what each `watchparty serve` worker calls
        frozen = gc.get_freeze_count()
        a, b = [], []
        a.append(b)
        b.append(a)  # a cycle made after startup: the collector still frees it
        del a, b
        print(frozen, gc.collect())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    frozen, collected = map(int, out.stdout.split())
    assert frozen > 50_000, frozen  # FastAPI, SQLAlchemy, pydantic and the app itself
    assert collected >= 2
