"""bench/load.py at a small scale: two API processes, two steps of a few rooms, one client
process, a brisk mix (chat, typing, remote requests and reconnect churn every few seconds).
Asserts what the harness and the product do under it (every socket and agent opens, every
chat message reaches every member's connection that stayed open, no error, the servers count
the sockets, the report has its rows), never the timings: the box is shared."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import load
from bench.load_clients import Mix

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(240)]


async def test_a_small_ramp_opens_every_socket_and_delivers_every_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("the bench starts a redis-server of its own")
    mix = Mix(chat_per_min=20, typing_per_min=6, remote_per_min=10, reconnect_per_min=4)
    cfg = load.Config(
        processes=2,
        clients=4,
        steps=(8, 16),
        window_s=8,
        settle_s=1,
        workers=1,
        users=6,
        # Timings are not this test's business: a shared box may be slow, never wrong.
        target_p99=60_000,
        mix=mix,
    )
    steps = await load.run(cfg, tmp=tmp_path)
    assert [s.target for s in steps] == [8, 16], [s.missed(cfg.target_p99) for s in steps]
    for step in steps:
        assert step.opened == step.asked > 0, step.open_failures
        assert not step.errors, step.errors
        assert step.missed(cfg.target_p99) == []
        # 16 sockets per process: 8 rooms of 4, each room's members over both processes, and
        # each room's agent on one of them. A member away for its churn is not counted.
        assert step.rooms == step.target * 2 // 4
        assert sum(step.agents) == step.rooms
        assert 0 < sum(step.sockets) <= step.target * 2
        assert step.sent > 0 and step.expected >= step.sent and step.lost == 0
        assert len(step.latencies_ms) >= step.expected
        assert step.api_cpu[0] > 0 and step.redis_cpu > 0 and step.client_cpu > 0
    churned = sum(s.actions["reconnect"] for s in steps)
    assert churned > 0 and sum(s.actions["remote.request"] for s in steps) > 0
    part = load.report(steps, cfg, "ci")
    assert part.startswith("### ci\n") and part.count("\n| 8 | 4 |") == 1
    assert "| 16 | 8 |" in part and "Every step met the target" in part
    # Written into its own section of (a copy of) the doc, replacing its earlier part of that
    # label, the sections after it untouched.
    doc = tmp_path / "performance.md"
    doc.write_text(load.DOC.read_text())
    monkeypatch.setattr(load, "DOC", doc)
    load.write_doc(part, "ci")
    load.write_doc(part, "ci")
    text = doc.read_text()
    assert text.count("### ci\n") == 1
    assert text.index(load.SECTION) < text.index("### ci\n") < text.index("## Capacity model")
