"""A served process keeps its startup heap out of the collector's walks and times every pause
the collector makes (controlplane/heap.py, controlplane/main.py `serving`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_served_app_freezes_its_startup_heap_and_times_each_collection(tmp_path: Path) -> None:
    # A fresh interpreter: freezing and collector callbacks are per process, and the test
    # runner's own heap must stay as it is.
    script = textwrap.dedent(
        """
        import gc, json
        from prometheus_client import generate_latest
        from controlplane.main import app_factory
        from controlplane.observability import observe_gc_pauses

        app = app_factory()  # what each `watchparty serve` worker calls
        frozen = gc.get_freeze_count()
        a, b = [], []
        a.append(b)
        b.append(a)  # a cycle made after startup: the collector still frees it
        del a, b
        collected = gc.collect()
        # what GET /metrics does with the pauses recorded since the last scrape
        m = app.state.metrics
        observe_gc_pauses(m, app.state.gc_pauses.drain())
        text = generate_latest(m.registry).decode()
        again = app.state.gc_pauses.drain()  # each pause is handed over once
        print(json.dumps({"frozen": frozen, "collected": collected, "metrics": text,
                          "again": again}))
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
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["frozen"] > 50_000, found["frozen"]  # FastAPI, SQLAlchemy, pydantic, the app
    assert found["collected"] >= 2
    # the full collection just made is on /metrics with its pause
    counts = {
        line.split('generation="', 1)[1].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in found["metrics"].splitlines()
        if line.startswith("watchparty_gc_pause_seconds_count{")
    }
    assert counts.get("2", 0) >= 1, counts
    total = [
        float(line.rsplit(" ", 1)[1])
        for line in found["metrics"].splitlines()
        if line.startswith('watchparty_gc_pause_seconds_sum{generation="2"}')
    ]
    assert total and total[0] > 0
    assert all(generation != 2 for generation, _ in found["again"]), found["again"]
