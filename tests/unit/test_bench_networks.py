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
