"""bench/networks.py's arithmetic: when the picture moves again, and a window's differences."""

from __future__ import annotations

from bench.networks import moving_again, window


def test_moving_again_is_the_first_second_with_ten_frames() -> None:
    steady = [i * 33.3 for i in range(60)]  # 30 fps from 0 to 2 s
    got0 = moving_again(steady, since=500)
    assert got0 is not None and got0 < 0.04  # the next frame: it never stopped
    # Frozen from 1 s to 3.5 s, then 30 fps again.
    frozen = [t for t in steady if t < 1000] + [3500 + i * 33.3 for i in range(40)]
    got = moving_again(frozen, since=1000)
    assert got is not None and abs(got - 2.5) < 0.01
    # A trickle (2 fps) never counts as moving.
    assert moving_again([i * 500.0 for i in range(20)], since=0) is None


def test_window_takes_differences_over_the_seconds() -> None:
    a = {
        "t": 1000.0,
        "shown": 10,
        "bytesReceived": 0,
        "packetsReceived": 0,
        "packetsLost": 0,
        "keyFramesDecoded": 1,
        "freezeCount": 0,
        "totalFreezesDuration": 0.0,
        "nackCount": 0,
        "pliCount": 0,
        "firCount": 0,
        "frameWidth": 1280,
        "frameHeight": 720,
        "width": 0,
        "height": 0,
    }
    b = {
        **a,
        "t": 3000.0,
        "shown": 70,
        "bytesReceived": 250_000,
        "packetsReceived": 300,
        "packetsLost": 6,
        "keyFramesDecoded": 2,
        "freezeCount": 1,
        "totalFreezesDuration": 0.4,
        "nackCount": 5,
        "pliCount": 1,
        "frameWidth": 854,
        "frameHeight": 480,
        "status": {"height": 480},
    }
    w = window(a, b)
    assert (w.fps_shown, w.kbps, w.lost, w.keyframes, w.freezes) == (30.0, 1000.0, 6, 1, 1)
    assert (w.width, w.height, w.plis, w.nacks) == (854, 480, 1, 5)
    assert w.status == {"height": 480}


def test_a_run_replaces_only_its_own_part_of_the_section() -> None:
    from bench.networks import replace_part

    section = "## Real networks\n\nintro\n\n### before\n\nold before\n\n### after\n\nold after\n"
    marks = ("\n### ", "\n## ")
    got = replace_part(section, "### before", "### before\n\nnew before\n", marks)
    assert (
        got == "## Real networks\n\nintro\n\n### before\n\nnew before\n\n### after\n\nold after\n"
    )
    got = replace_part(got, "### after", "### after\n\nnew after\n", marks)
    assert got.endswith("### before\n\nnew before\n\n### after\n\nnew after\n")
    assert (
        replace_part("## X\n", "### late", "### late\n\nrow\n", marks)
        == "## X\n\n### late\n\nrow\n"
    )


def test_agent_summary_reads_per_rung_cpu_when_the_agent_has_a_ladder() -> None:
    from bench.networks import agent_summary, rung_cpu

    def beat(t: float, kf: int, cpu720: float, cpu360: float, active360: bool) -> dict[str, object]:
        rungs = [
            {"rung": "720p30", "viewers": 1, "active": True, "encode_cpu_percent": cpu720},
            {"rung": "360p30", "viewers": 1, "active": active360, "encode_cpu_percent": cpu360},
        ]
        data = {
            "cpu_percent": 40.0,
            "keyframes": kf,
            "keyframe_requests": 0,
            "rungs": rungs,
            "rung_switches": kf,
            "viewer_quality": [
                {"conn": "w", "rung": 360, "estimate_kbps": 700, "cut_by": "loss", "nacks": 3}
            ],
        }
        return {"type": "heartbeat", "_t": t, "data": data}

    got = agent_summary([beat(1, 2, 20, 0, False), beat(2, 5, 30, 10, True)], 0, 3)
    assert got["rung_cpu_percent"] == {"720p30": 25.0, "360p30": 10.0}
    assert (got["keyframes"], got["rung_switches"]) == (3, 3)
    assert got["rung_viewers"] == {"720p30": 1, "360p30": 1}
    assert got["viewers"] == [{"conn": "w", "rung": 360, "estimate_kbps": 700, "cut_by": "loss"}]
    assert rung_cpu(got) == "720p30 25, 360p30 10"
    # Today's agent (no ladder): CPU and keyframes only.
    plain = [{"type": "heartbeat", "_t": 1.0, "data": {"cpu_percent": 30.0, "keyframes": 1}}]
    assert agent_summary(plain, 0, 2) == {
        "cpu_percent": 30.0,
        "keyframes": 0,
        "keyframe_requests": 0,
    }
    assert rung_cpu({}) == "-"
