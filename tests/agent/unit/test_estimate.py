"""The per-viewer bandwidth estimate and rung policy (browser-image/roomagent/media/estimate.py)
and the ladder (media/ladder.py), without services: a simulated link drives the receiver's
reports the way a capped, lossy downlink would."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from roomagent.media.estimate import CAPPED, LINK_LIMITED, ViewerEstimate, ViewerStats
from roomagent.media.ladder import LadderError, Rung, cap_index, parse_ladder, rung_names

LADDER = parse_ladder("480p:1000,360p:450,360p@15:250", 1280, 720, 30, 3000)
PACKET = 1200
AUDIO_KBPS = 130


class Link:
    """A downlink of `capacity(t)` kbit/s that also loses `random_loss` of what it carries.
    Each simulated 0.1 s the viewer's rung is sent; every second a receiver report goes back."""

    def __init__(
        self,
        est: ViewerEstimate,
        capacity: Callable[[float], float],
        random_loss: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.est = est
        self.capacity = capacity
        self.random_loss = random_loss
        self.rng = random.Random(seed)
        self.t = 0.0
        self.seq = 0
        self.lost = 0
        self.trace: list[tuple[float, int]] = []

    def run(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t += 0.1
            rung = LADDER[self.est.rung]
            kbps = rung.kbps
            packets = max(1, round(kbps * 1000 / 8 / PACKET / 10))
            share = min(1.0, self.capacity(self.t) / (kbps + AUDIO_KBPS))
            for _ in range(packets):
                self.est.on_sent(self.t, PACKET)
                self.seq += 1
                if self.rng.random() > share or self.rng.random() < self.random_loss:
                    self.lost += 1
            if round(self.t * 10) % 10 == 0:
                self.est.on_receiver_report(self.t, self.seq, self.lost, 5.0, 0.05)
            self.est.tick(self.t)
            self.trace.append((self.t, self.est.rung))

    def rungs_since(self, t: float) -> set[int]:
        return {r for at, r in self.trace if at >= t}


def test_ladder_from_the_setting() -> None:
    assert LADDER == [
        Rung(1280, 720, 30, 3000),
        Rung(854, 480, 30, 1000),
        Rung(640, 360, 30, 450),
        Rung(640, 360, 15, 250),
    ]
    assert rung_names(LADDER) == ["720p", "480p", "360p", "360p15"]
    assert parse_ladder("", 1280, 720, 30, 3000) == [Rung(1280, 720, 30, 3000)]
    # rungs not below the one before are dropped; a rung's bitrate never exceeds the one above
    assert parse_ladder("1080p:6000,480p:4000,480p:900", 1280, 720, 30, 3000) == [
        Rung(1280, 720, 30, 3000),
        Rung(854, 480, 30, 3000),
    ]
    with pytest.raises(LadderError):
        parse_ladder("480:1000", 1280, 720, 30, 3000)
    assert [cap_index(LADDER, h) for h in (0, 720, 480, 360, 240)] == [0, 0, 1, 2, 3]


def test_a_clean_fast_link_stays_on_the_top_rung() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    link = Link(est, lambda t: 50_000)
    link.run(60)
    assert link.rungs_since(0) == {0}
    assert est.switches == 0 and est.flags == 0


def test_random_loss_below_the_congestion_threshold_is_left_to_nack() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    link = Link(est, lambda t: 50_000, random_loss=0.05)
    link.run(60)
    assert link.rungs_since(0) == {0}


@pytest.mark.parametrize(("capacity", "best_fit"), [(1200, 1), (2500, 1), (600, 2)])
def test_a_capped_link_moves_down_fast_and_does_not_flap(capacity: float, best_fit: int) -> None:
    est = ViewerEstimate(LADDER, 0.0)
    link = Link(est, lambda t: capacity, random_loss=0.01)
    link.run(3)
    # down within the first seconds, to a rung that fits the link with room for audio
    assert est.rung >= 1 and LADDER[est.rung].kbps + AUDIO_KBPS <= capacity
    link.run(117)
    # later probes up may fail, but each failed rung is barred longer and longer
    assert LADDER[est.rung].kbps + AUDIO_KBPS <= capacity
    assert est.flags & LINK_LIMITED
    # never below the best rung that fits for long, never above it for long
    late = [r for at, r in link.trace if at >= 10]
    assert sum(r < best_fit for r in late) <= 0.08 * len(late)  # above: failed probes
    assert sum(r > best_fit for r in late) <= 0.05 * len(late)  # below
    assert est.switches <= 16


def test_the_cap_lifted_brings_the_viewer_back_up_within_15_s() -> None:
    def capacity(t: float) -> float:
        return 1200 if 10 <= t < 40 else 50_000

    est = ViewerEstimate(LADDER, 0.0)
    link = Link(est, capacity)
    link.run(10)
    assert est.rung == 0
    link.run(2)
    assert est.rung >= 1  # down within 2 s of the drop
    link.run(28)
    link.run(15)
    assert est.rung == 0
    assert est.flags == 0


def test_a_remb_that_falls_below_the_rate_sent_cuts_the_estimate() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    t = [0.0]

    def remb(at: float, bps: int) -> None:
        while t[0] < at:  # 3 Mbit/s sent meanwhile
            t[0] += 0.1
            est.on_sent(t[0], 37_500, 30)
            est.tick(t[0])
        est.on_remb(at, bps)

    # a REMB below the rate sent from the start (an estimator ramping up) changes nothing
    remb(3.0, 400_000)
    remb(4.5, 2_000_000)
    assert est.rung == 0 and est.cuts == 0
    remb(5.0, 3_300_000)  # kept up with the rate sent
    remb(5.5, 1_100_000)  # then fell well below it
    assert est.cuts == 0  # one dip is not yet queueing
    remb(6.0, 2_900_000)  # back up: it was a hiccup
    remb(6.5, 1_100_000)
    remb(7.6, 1_100_000)  # well below for a second: queueing delay
    assert est.estimate_kbps == pytest.approx(990)
    assert est.cut_reason == "remb"
    assert est.tick(7.7) == 2


def test_a_rate_sent_that_rises_past_a_steady_remb_is_not_a_fall() -> None:
    """A viewer moving up a rung sends more than the REMB its receiver worked out at the rung
    below: the receiver ramps up again, no queue is building."""
    est = ViewerEstimate(LADDER, 0.0)
    t = 0.0
    for kbps, until in ((900, 5.0), (3000, 9.0)):  # 480p-ish, then the top rung
        while t < until:
            t += 0.1
            est.on_sent(t, round(kbps * 1000 / 8 / 10), 10)
            if round(t * 10) % 5 == 0:
                est.on_remb(t, 1_000_000)  # kept up with 900, below 3000
            est.tick(t)
    assert est.cuts == 0


def test_a_remb_below_the_rate_sent_from_the_start_counts_once_a_queue_builds() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    t = [0.0]
    seq = [0]

    def step(until: float, rtt: float, remb: int) -> None:
        while t[0] < until:
            t[0] += 0.1
            est.on_sent(t[0], 37_500, 30)  # 3 Mbit/s
            seq[0] += 30
            if round(t[0] * 10) % 5 == 0:
                est.on_receiver_report(t[0], seq[0], 0, 1.0, rtt)
                est.on_remb(t[0], remb)
            est.tick(t[0])

    # a page that starts moving: the receiver's REMB climbs from the still page's rate, the
    # round trip stays flat: not congestion
    step(10.0, 0.04, 700_000)
    assert est.cuts == 0 and est.rung == 0
    # a capped link: the same REMB, and the round trip grows as the bottleneck's queue fills
    step(13.0, 0.20, 700_000)
    assert est.cut_reason == "remb" and est.estimate_kbps == pytest.approx(630)
    assert est.rung == 2


def test_queueing_delay_in_the_round_trip_cuts_the_estimate() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    for i in range(30):
        est.on_sent(i / 10, 12_000)
    est.tick(3.0)
    est.on_receiver_report(3.0, 100, 0, 1.0, 0.04)
    est.on_receiver_report(4.0, 400, 0, 1.0, 0.60)  # a busy receiver, not yet a queue
    est.on_receiver_report(5.0, 700, 0, 1.0, 0.60)
    est.on_receiver_report(6.0, 1000, 0, 1.0, 0.60)
    assert est.tick(6.0) == 0 and est.cuts == 0
    est.on_receiver_report(7.0, 1300, 0, 1.0, 1.15)
    assert est.tick(7.0) == 0  # one late report is not a queue
    est.on_receiver_report(8.0, 1600, 0, 1.0, 1.20)
    assert est.tick(8.0) == 0
    est.on_receiver_report(9.0, 1900, 0, 1.0, 1.25)
    assert est.tick(9.0) > 0 and est.cut_reason == "delay"


def test_the_viewer_cap_bounds_the_rung_and_is_reported() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    est.set_cap(480)
    assert est.tick(0.1) == 1
    assert est.flags == CAPPED
    est.set_cap(360)
    assert est.tick(0.2) == 2
    est.set_cap(0)
    for t in (10.0, 14.0, 18.0):  # up again one rung at a time
        est.tick(t)
    assert est.rung == 0 and est.flags == 0


def test_viewer_page_counters_stand_in_when_no_receiver_report_comes() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    for i in range(40):
        est.on_sent(i / 10, 12_000)
    est.tick(1.0)
    est.on_viewer_stats(1.0, ViewerStats(packets_received=100, packets_lost=0))
    est.on_viewer_stats(2.0, ViewerStats(packets_received=200, packets_lost=100))
    assert est.tick(4.0) > 0
    # counters that went backwards (a new peer on the page) are a fresh start, not a loss
    est2 = ViewerEstimate(LADDER, 0.0)
    est2.on_viewer_stats(1.0, ViewerStats(packets_received=500, packets_lost=50))
    est2.on_viewer_stats(2.0, ViewerStats(packets_received=10, packets_lost=0))
    assert est2.tick(2.0) == 0


def test_a_receiver_reporting_16_bit_sequence_numbers_is_unwrapped() -> None:
    est = ViewerEstimate(LADDER, 0.0)
    for i in range(40):
        est.on_sent(i / 10, 37_500, 30)
    est.tick(4.0)
    est.on_receiver_report(4.0, 65_000, 0, 1.0, None)
    est.on_receiver_report(5.0, 300, 418, 1.0, None)  # 836 expected across the wrap, half lost
    assert est.loss == 0.5
    # (that loss cut the estimate: the next window starts once the cut took hold)
    est.on_receiver_report(6.1, 700, 418, 1.0, None)
    est.on_receiver_report(7.1, 1_136, 418, 1.0, None)
    assert est.loss == 0.0


def _sending(est: ViewerEstimate, start: float, until: float, kbps: float) -> float:
    """`kbps` of video sent from `start` to `until`, ticking every 0.1 s; returns `until`."""
    t = start
    while t < until - 1e-9:
        t += 0.1
        est.on_sent(t, round(kbps * 1000 / 8 / 10), max(1, round(kbps / 96 / 10)))
        est.tick(t)
    return t


def test_a_loss_cut_keeps_what_the_viewer_page_says_it_received() -> None:
    """The sent rate times a report's loss reads far below the link when the window holds a
    keyframe burst into a short router queue: what the viewer counted arriving is the link."""
    est = ViewerEstimate(LADDER, 0.0)
    est.on_viewer_stats(0.5, ViewerStats(bytes_received=0, packets_received=0))
    t = _sending(est, 0.0, 1.5, 3000)
    # the viewer page counted 1.1 Mbit/s arriving over its last second
    est.on_viewer_stats(1.5, ViewerStats(bytes_received=137_500, packets_received=115))
    est.on_receiver_report(t, 100, 0, 1.0, 0.05)
    est.on_receiver_report(t + 0.6, 400, 240, 1.0, 0.05)  # 80 % lost
    assert est.cut_reason == "loss"
    assert est.estimate_kbps == pytest.approx(1100)  # not 3000 x 0.2 = 600
    assert est.tick(t + 0.6) == 1  # 480p, where 600 kbit/s would be 360p


def test_a_viewer_count_from_before_the_link_fell_does_not_hold_the_estimate_up() -> None:
    """A cap coming down mid-run: the viewer page's last second still counted the fast link
    (2.8 Mbit/s) while the report says 77 % of 2.25 Mbit/s was lost. The cut keeps at most the
    rate sent less half the loss (left at 2.8 Mbit/s, the viewer probed the top rung again six
    seconds later through a 1.2 Mbit/s link)."""
    est = ViewerEstimate(LADDER, 0.0)
    est.on_viewer_stats(0.5, ViewerStats(bytes_received=0, packets_received=0))
    t = _sending(est, 0.0, 1.5, 2250)
    est.on_viewer_stats(1.5, ViewerStats(bytes_received=350_000, packets_received=290))
    est.on_receiver_report(t, 100, 0, 1.0, 0.05)
    est.on_receiver_report(t + 0.6, 400, 231, 1.0, 0.05)  # 77 % lost
    assert est.cut_reason == "loss"
    # the rate sent (2.25 Mbit/s, a little more as the window measures it) less half the loss
    assert 1200 < est.estimate_kbps < 1600


def test_a_report_window_from_before_a_cut_does_not_cut_again() -> None:
    """The reports right after a cut still count what the bottleneck dropped of the sending
    before it: that window is not judged, the next one is."""
    est = ViewerEstimate(LADDER, 0.0)
    t = _sending(est, 0.0, 2.0, 3000)
    est.on_receiver_report(t, 1_000, 0, 1.0, 0.05)
    est.on_receiver_report(t + 1.0, 1_400, 300, 1.0, 0.05)  # 75 % lost: cut
    assert est.cuts == 1 and est.tick(t + 1.0) == 2
    # the queue's tail: 100 more lost of the old sending, reported just after the cut (too
    # short a window to judge on its own)
    est.on_receiver_report(t + 1.3, 1_530, 400, 1.0, 0.05)
    # then clean seconds on the rung it moved to
    est.on_receiver_report(t + 3.1, 1_630, 400, 1.0, 0.05)
    est.on_receiver_report(t + 4.2, 1_700, 400, 1.0, 0.05)
    assert est.cuts == 1 and est.loss == 0.0


def test_a_new_viewer_on_a_weak_link_does_not_probe_the_top_rung_soon() -> None:
    """Cut from the top at its start to what its link carries (1.2 Mbit/s), a viewer that never
    held the top rung does not try it again for unproven_bar_s: each try freezes it."""
    est = ViewerEstimate(LADDER, 0.0)
    link = Link(est, lambda t: 1200, random_loss=0.02)
    link.run(5)
    assert est.rung == 1
    link.run(35)
    assert 0 not in link.rungs_since(5)
    link.run(20)
    assert 0 in link.rungs_since(40)  # tried again later (and failed)


def test_a_failed_probe_does_not_leave_a_remb_cut_behind() -> None:
    """The receiver's REMB falls during a failed probe (the probe's queue) and climbs back
    slowly: that fall is not a second congestion signal after the probe's own cut."""
    est = ViewerEstimate(LADDER, 0.0)
    est.set_cap(480)
    t = 0.0
    seq = 0
    for _ in range(100):  # 10 s on 480p, its REMB keeping up
        t += 0.1
        est.on_sent(t, 12_500, 10)
        seq += 10
        if round(t * 10) % 5 == 0:
            est.on_receiver_report(t, seq, 0, 1.0, 0.05)
            est.on_remb(t, 1_100_000)
        est.tick(t)
    assert est.rung == 1
    est.set_cap(0)
    while est.rung != 0:  # the probe up
        t += 0.1
        est.on_sent(t, 12_500, 10)
        est.tick(t)
    lost = 0
    for _ in range(10):  # the top rung through a 1.2 Mbit/s link: most of it lost
        t += 0.1
        est.on_sent(t, 37_500, 30)
        seq += 30
        lost += 18
        if round(t * 10) % 5 == 0:
            est.on_receiver_report(t, seq, lost, 1.0, 0.05)
            est.on_remb(t, 900_000)
        est.tick(t)
    assert est.cut_reason == "loss" and est.rung == 1
    cuts = est.cuts
    for _ in range(40):  # back on 480p: the REMB is low for a while, the round trip steady
        t += 0.1
        est.on_sent(t, 12_500, 10)
        seq += 10
        if round(t * 10) % 5 == 0:
            est.on_receiver_report(t, seq, lost, 1.0, 0.05)
            est.on_remb(t, 300_000)
        est.tick(t)
    assert est.cuts == cuts and est.rung == 1


def test_a_first_report_of_heavy_loss_cuts_by_the_rate_sent_so_far() -> None:
    """A viewer's first receiver report can come before a second of sending closed a window:
    the rate sent so far stands in, so the first cut lands near the link, not at half the
    start estimate (a second cut, and a second rung move, two seconds later)."""
    est = ViewerEstimate(LADDER, 0.0)
    t = _sending(est, 0.0, 0.3, 3000)
    est.on_receiver_report(t, 100, 0, 1.0, 0.05)
    t = _sending(est, t, 0.9, 3000)
    est.on_receiver_report(t, 280, 126, 1.0, 0.05)  # 70 % lost
    assert est.cuts == 1
    assert est.estimate_kbps == pytest.approx(1000, rel=0.15)  # 3.4 Mbit/s sent, 30 % through
