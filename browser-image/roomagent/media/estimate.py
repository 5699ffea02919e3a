"""One viewer's bandwidth estimate and the ladder rung it gets (pure: no I/O, time passed in).

What the viewer's receiver tells the agent comes in through ``on_*``; ``tick(now)`` (about once a
second and after each report) lets the estimate grow and returns the rung the viewer should be
on. The rules, in the spirit of Google congestion control's loss and delay controllers but
driving a choice of rung rather than an encoder:

- **Down fast.** Loss is measured per receiver-report window (RTCP RR: expected vs lost
  packets, before retransmission). A window of at least ``min_packets`` losing ``severe_loss``
  (25 %), or two windows in a row losing ``high_loss`` (10 %), cut the estimate to what the
  link delivered (the video rate sent times 1 - loss, or what the viewer page counted arriving
  over its last second if that is more) and at most ``1 - loss/2`` of itself; a report window
  that began before ``drain_s`` after a cut is not judged (it counts the sending before it). A
  REMB below ``remb_low`` (85 %) of the rate sent for ``remb_confirm_s``, either after it had kept
  up with it (Chromium's receive-side estimator lowers it only when it sees queueing delay) or
  with the round trip ``remb_queue_s`` above its lowest (a queue is building), cuts the estimate
  to 90 % of it (the REMB counts sound too). A REMB below the rate sent on a steady round trip
  (an estimator ramping up from its start value, or from a still page's rate when the page
  starts moving) or one dip is not a signal. A
  round-trip time ``queue_delay_s`` above the lowest seen, three reports in a row, cuts it to
  85 % of the rate sent. The viewer moves down at once to the best rung that fits
  (``down_headroom`` for audio, headers and retransmissions).
- **Up slowly, by probing.** Without loss (< ``low_loss``) or delay for ``hold_s``, the estimate
  grows ``growth_per_s`` (10 %) a second up to ``max_factor`` times the top rung. Moving up a rung
  is the probe (the rate sent is what shows whether the link takes it): once the estimate clears
  the next rung by ``up_headroom`` and the viewer has stayed ``dwell_s`` on its rung. A cut within
  ``probe_s`` of moving up is a failed probe: that rung is barred for ``backoff_s``, doubling
  with each failure up to ``max_backoff_s``, so a viewer on a link just below a rung does not
  flap between two. A cut off a rung the viewer never held for ``held_s`` and had tried (its
  start on the top rung, a probe up; not one it landed on after a cut) bars it for
  ``unproven_bar_s``: each try of a rung far above the link freezes the picture for a second or
  more. After a failed probe the REMB's fall (the probe's own queue) is not counted again.
- Random loss below ``high_loss`` (Wi-Fi, a lossy tether) is left to NACK retransmission: it
  does not cut the estimate (above ``low_loss``, 5 %, it stops its growth).
- When no receiver report covered the last seconds (a receiver that sends none), NACKed
  packets against packets sent, or the viewer page's own counters (``on_viewer_stats``), stand
  in for the loss.

The viewer's own cap (``max_height``) bounds the rung from above; ``flags`` tell the viewer
whether the link or its own choice keeps it below the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ladder import Rung, cap_index

LINK_LIMITED = 1
CAPPED = 2


@dataclass(frozen=True)
class Params:
    min_packets: int = 20
    low_loss: float = 0.05
    high_loss: float = 0.10
    severe_loss: float = 0.25
    # a round trip this far above its lowest, three reports in a row, is a queue on its own
    # (a receiver starved of CPU also answers late: a smaller rise counts only with a low REMB)
    queue_delay_s: float = 1.0
    delay_reports: int = 3
    # a REMB below remb_low x the rate sent for remb_confirm_s, within remb_tracked_s of one
    # that kept up with it, is queueing delay
    remb_low: float = 0.85
    remb_confirm_s: float = 1.0
    remb_tracked_s: float = 10.0
    # ... or with the round trip this much above the lowest seen
    remb_queue_s: float = 0.08
    hold_s: float = 2.0
    growth_per_s: float = 0.10
    max_factor: float = 4.0
    up_headroom: float = 1.3
    down_headroom: float = 1.1
    # cuts at most this often: the windows after a cut still show the sending before it
    cut_gap_s: float = 2.0
    keep_factor: float = 1.0
    dwell_s: float = 3.0
    probe_s: float = 5.0
    backoff_s: float = 10.0
    max_backoff_s: float = 40.0
    forgive_s: float = 30.0
    # A cut off a rung the viewer has not held for held_s (its start on the top rung, a probe
    # up) bars that rung for unproven_bar_s: trying a rung the link never carried costs a
    # freeze of a second or more (its keyframe alone outlasts a router's queue) and fails
    # again on a steady weak link. A rung it held (a link that fell mid-run) keeps the short
    # backoff, so a lifted cap is found again quickly.
    held_s: float = 5.0
    unproven_bar_s: float = 40.0
    # a receiver-report window covers at least min_packets and this long
    min_window_s: float = 0.5
    # a receiver-report window that began before this long after a cut is not judged
    drain_s: float = 1.0
    # floor of the estimate, as a fraction of the last rung's bitrate
    floor_factor: float = 0.5
    # how long a loss measurement from another source waits for a receiver report
    report_gap_s: float = 2.5
    # the viewer page's received rate counts in a loss cut this long after it came
    received_fresh_s: float = 2.5


@dataclass
class ViewerStats:
    """The viewer page's cumulative inbound-rtp counters (data-channel message 0x0C)."""

    bytes_received: int = 0
    packets_received: int = 0
    packets_lost: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0
    freeze_count: int = 0
    total_freezes_duration_ms: int = 0
    jitter_buffer_delay_ms: int = 0


@dataclass
class _Rate:
    """Bytes and packets sent, as a rate over windows of about a second."""

    bytes: int = 0
    packets: int = 0
    since: float | None = None
    kbps: float = 0.0
    last_kbps: float = 0.0
    pps: float = 0.0

    def add(self, now: float, nbytes: int, packets: int) -> None:
        if self.since is None:
            self.since = now
        self.bytes += nbytes
        self.packets += packets

    def current(self, now: float) -> float:
        """The rate of the window still open (before the first closes: the only one known)."""
        if self.since is None or now - self.since < 0.2:
            return 0.0
        return self.bytes * 8 / (now - self.since) / 1000

    def roll(self, now: float) -> tuple[int, float] | None:
        """Close the window if it is a second old: (packets, seconds) in it."""
        if self.since is None or now - self.since < 1.0:
            return None
        dt = now - self.since
        kbps = self.bytes * 8 / dt / 1000
        # smoothed, but a fall shows at once (the next window's sending decides)
        self.last_kbps = kbps
        self.kbps = kbps if self.kbps == 0 else 0.5 * self.kbps + 0.5 * kbps
        self.pps = self.packets / dt
        out = (self.packets, dt)
        self.bytes = self.packets = 0
        self.since = now
        return out


@dataclass
class ViewerEstimate:
    ladder: list[Rung]
    now: float
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        p, top = self.params, self.ladder[0]
        self.estimate_kbps: float = top.kbps * p.up_headroom * 1.2
        self.rung = 0
        self.max_height = 0
        self.switches = 0
        self.cuts = 0
        self.cut_reason = ""  # what cut the estimate last: loss, remb or delay
        self.remb_kbps: float | None = None
        self._remb_tracked = (-1e9, 0.0)  # when the REMB last kept up with the rate sent, and it
        self._remb_low_since: float | None = None
        self.rtt_s: float | None = None
        self.min_rtt_s: float | None = None
        self.jitter_ms = 0.0
        self.loss = 0.0  # the last window's loss fraction
        self.nacks = 0
        self.viewer_stats: ViewerStats | None = None
        # video the viewer page says it received, kbit/s over its last report's interval, and when
        self.received_kbps: float | None = None
        self._received_at = -1e9
        self._stats_at: float | None = None
        self._sent = _Rate()
        self._high_windows = 0
        self._delay_reports = 0
        self._last_cut = -1e9
        self._last_switch = self.now
        self._last_grow = self.now
        self._last_report = -1e9
        self._last_up: tuple[float, int] | None = None  # (when, to which rung)
        self._barred: dict[int, float] = {}  # rung -> barred until
        self._failures: dict[int, int] = {}
        self._held: set[int] = set()  # rungs the viewer stayed on for held_s without a cut
        # the rung it is on is a try: where it started, or reached by moving up (not a landing
        # after a cut, whose next cut is the link still draining)
        self._tried = True
        self._rr: tuple[int, int] | None = None  # (extended highest seq, cumulative lost)
        self._rr_at = self.now
        self._nacked_window = 0
        self._stats_prev: ViewerStats | None = None

    # inputs ---------------------------------------------------------------------------------
    def on_sent(self, now: float, nbytes: int, packets: int = 1) -> None:
        """Video of ``nbytes`` in ``packets`` RTP packets left for this viewer."""
        self._sent.add(now, nbytes, packets)

    def on_receiver_report(
        self,
        now: float,
        highest_seq: int,
        cumulative_lost: int,
        jitter_ms: float,
        rtt_s: float | None,
    ) -> None:
        """An RTCP receiver report block about this viewer's video (``highest_seq`` extended
        with its cycles)."""
        self.jitter_ms = jitter_ms
        if rtt_s is not None and rtt_s >= 0:
            self._on_rtt(now, rtt_s)
        prev = self._rr
        if prev is None:
            self._rr, self._rr_at = (highest_seq, cumulative_lost), now
            return
        expected = highest_seq - prev[0]
        if expected < -0x8000:
            # a receiver that reports the 16-bit sequence number, not the extended one (aiortc's):
            # it wrapped
            expected += 0x10000
            highest_seq = prev[0] + expected
        if self._rr_at < self._last_cut + self.params.drain_s:
            # The window began before the last cut took hold: its loss is the sending before
            # it, and the queue it left (a 600 kbit/s viewer moved from 720p to 360p15 was cut
            # again to the floor by such a window, 85 % lost, 3.7 s later). Start afresh.
            self._rr, self._rr_at = (highest_seq, cumulative_lost), now
            return
        if expected < self.params.min_packets or now - self._rr_at < self.params.min_window_s:
            # Chromium puts a report block in every compound RTCP packet (with each NACK,
            # each REMB): the window grows until it says something
            return
        self._rr, self._rr_at = (highest_seq, cumulative_lost), now
        self._last_report = now
        self._on_loss(now, max(0, cumulative_lost - prev[1]), expected)

    def on_nack(self, now: float, count: int) -> None:
        self.nacks += count
        self._nacked_window += count

    def on_remb(self, now: float, bps: int) -> None:
        p = self.params
        kbps = bps / 1000
        self.remb_kbps = kbps
        sent = self._sent.kbps
        if sent <= 0:
            return
        if kbps >= 0.9 * sent:
            # the receiver's estimate keeps up with what is sent: a later fall means queueing
            self._remb_tracked = (now, kbps)
            self._remb_low_since = None
            return
        # A REMB well below the rate sent for a second is queueing delay when the receiver's
        # estimate had kept up with the rate sent lately and fell, or the round trip grew (a
        # queue): below it all along on a steady round trip is an estimator ramping up from
        # its start value (or from a still page's rate when the page starts moving); one dip
        # is the receiver's own hiccup (an aiortc viewer's busy loop).
        # (the REMB itself fell: the rate sent going up past it, as when the viewer moves up a
        # rung, is the estimator's ramp-up again)
        tracked_at, tracked_kbps = self._remb_tracked
        fell = now - tracked_at <= p.remb_tracked_s and kbps < 0.9 * tracked_kbps
        queue = (
            self.rtt_s is not None
            and self.min_rtt_s is not None
            and self.rtt_s - self.min_rtt_s >= p.remb_queue_s
        )
        if kbps >= p.remb_low * sent or not (fell or queue):
            self._remb_low_since = None
            return
        if self._remb_low_since is None:
            self._remb_low_since = now
        if now - self._remb_low_since >= p.remb_confirm_s:
            # REMB counts the whole session (sound too): the video gets 90 % of it
            self._cut(now, 0.9 * kbps, "remb")
            self._remb_low_since = None

    def on_viewer_stats(self, now: float, stats: ViewerStats) -> None:
        """The viewer page's getStats counters; their loss counts where no RR came lately."""
        prev, self._stats_prev = self._stats_prev, stats
        prev_at, self._stats_at = self._stats_at, now
        self.viewer_stats = stats
        if prev is None or prev_at is None:
            return
        received = stats.packets_received - prev.packets_received
        lost = stats.packets_lost - prev.packets_lost
        nbytes = stats.bytes_received - prev.bytes_received
        if received < 0 or lost < 0 or nbytes < 0:
            return  # counters reset (a new peer): start again
        if now - prev_at >= 0.5:
            self.received_kbps = nbytes * 8 / (now - prev_at) / 1000
            self._received_at = now
        if now - self._last_report < self.params.report_gap_s:
            return
        self._on_loss(now, lost, received + lost)

    def set_cap(self, max_height: int) -> None:
        self.max_height = max(0, max_height)

    # the decision -----------------------------------------------------------------------------
    def tick(self, now: float) -> int:
        """Grow the estimate if the link allows, and return the rung to be on now."""
        p = self.params
        window = self._sent.roll(now)
        if window is not None:
            packets, _ = window
            if now - self._last_report >= p.report_gap_s and packets >= p.min_packets:
                self._on_loss(now, min(self._nacked_window, packets), packets)
            self._nacked_window = 0
        dt = max(0.0, now - self._last_grow)
        self._last_grow = now
        if now - self._last_cut >= p.hold_s and self.loss < p.low_loss and self._delay_reports == 0:
            top = self.ladder[0].kbps * p.max_factor
            self.estimate_kbps = min(top, self.estimate_kbps * (1 + p.growth_per_s) ** dt)
        if self._last_up is not None and now - self._last_up[0] > p.forgive_s:
            # held that rung long enough: its next failure starts the backoff afresh
            self._failures.pop(self._last_up[1], None)
            self._last_up = None
        if now - max(self._last_switch, self._last_cut) >= p.held_s:
            self._held.add(self.rung)
        want = self.wanted(now)
        if want != self.rung:
            if want < self.rung:
                self._last_up = (now, want)
            self._tried = want < self.rung
            self.rung = want
            self.switches += 1
            self._last_switch = now
        return self.rung

    def wanted(self, now: float) -> int:
        """The rung by the estimate, the cap and the hysteresis, without moving there."""
        p, ladder = self.params, self.ladder
        best = cap_index(ladder, self.max_height)
        est = self.estimate_kbps
        cur = max(self.rung, best)
        if est < ladder[cur].kbps * p.keep_factor and cur < len(ladder) - 1:
            # down, at once, to the best rung that fits
            for i in range(cur + 1, len(ladder)):
                if ladder[i].kbps * p.down_headroom <= est:
                    return i
            return len(ladder) - 1
        if cur > best and now - self._last_switch >= p.dwell_s:
            up = cur - 1
            if est >= ladder[up].kbps * p.up_headroom and self._barred.get(up, -1.0) <= now:
                return up
        return cur

    def by_link(self) -> int:
        """The rung the estimate alone would allow (no cap)."""
        for i, rung in enumerate(self.ladder):
            if rung.kbps * self.params.keep_factor <= self.estimate_kbps:
                return i
        return len(self.ladder) - 1

    @property
    def flags(self) -> int:
        best = cap_index(self.ladder, self.max_height)
        flags = 0
        if self.rung > best:
            flags |= LINK_LIMITED
        if best > 0:
            flags |= CAPPED
        return flags

    @property
    def sent_kbps(self) -> float:
        return self._sent.kbps

    # internals --------------------------------------------------------------------------------
    def _on_rtt(self, now: float, rtt: float) -> None:
        self.rtt_s = rtt
        self.min_rtt_s = rtt if self.min_rtt_s is None else min(self.min_rtt_s, rtt)
        if rtt - self.min_rtt_s > self.params.queue_delay_s:
            self._delay_reports += 1
            if self._delay_reports >= self.params.delay_reports and self._sent.kbps > 0:
                self._cut(now, 0.85 * self._sent.kbps, "delay")
        else:
            self._delay_reports = 0

    def _on_loss(self, now: float, lost: int, expected: int) -> None:
        p = self.params
        if expected < p.min_packets:
            return
        loss = min(1.0, lost / expected)
        self.loss = loss
        if loss >= p.high_loss:
            self._high_windows += 1
        else:
            self._high_windows = 0
        if (
            loss >= p.severe_loss or self._high_windows >= 2
        ) and now - self._last_cut >= p.cut_gap_s:
            target = self.estimate_kbps * (1 - loss / 2)
            # what the link delivered: the rate sent lately (the smoothed rate lags a move up)
            sent = max(self._sent.kbps, self._sent.last_kbps)
            if sent <= 0:
                # a viewer's first report, before a second of sending closed a window
                sent = self._sent.current(now)
            if sent > 0:
                target = min(target, sent * (1 - loss))
            got = self.received_kbps
            if got is not None and now - self._received_at <= p.received_fresh_s:
                # The viewer's own count of what arrived over its last second: on a saturated
                # link, the link's rate. The sent rate times the report's loss reads far lower
                # when the window holds a keyframe burst into a short router queue (a 1.2 Mbit/s
                # viewer starting on the top rung read 313 kbit/s and sat on 360p15 for 20 s).
                # Bounded by half the loss off the rate sent: a count whose second began before
                # the link fell (a cap coming down) read 2816 kbit/s beside a report of 77 %
                # lost from 2248 sent through a 1.2 Mbit/s link, and the viewer, left on an
                # estimate above the link, probed 720p again six seconds later.
                if sent > 0:
                    got = min(got, sent * (1 - loss / 2))
                target = max(target, min(self.estimate_kbps, got))
            self._cut(now, target, "loss")
            self._high_windows = 0

    def _cut(self, now: float, kbps: float, reason: str) -> None:
        p = self.params
        if now - self._last_cut < p.cut_gap_s:
            # the reports right after a cut still show the sending before it (and a queue
            # draining): one cut per cut_gap_s, whatever the signal
            return
        self.cut_reason = reason
        self.cuts += 1
        up = self._last_up
        if up is not None and now - up[0] <= p.probe_s and up[1] == self.rung:
            # The rung moved up to did not hold: bar it, longer each time, and go back to the
            # one below, which held (if the link fell meanwhile, the next window cuts again).
            n = self._failures.get(up[1], 0) + 1
            self._failures[up[1]] = n
            self._barred[up[1]] = now + min(p.max_backoff_s, p.backoff_s * 2 ** (n - 1))
            self._last_up = None
            # The receiver's REMB fell because of the probe's queue and climbs back slowly:
            # that fall is not news (it once cut a 1.2 Mbit/s viewer from 480p to 360p15 two
            # seconds after its failed probe). Only a REMB that falls after keeping up again,
            # or with a growing round trip, counts from here.
            self._remb_tracked = (-1e9, 0.0)
            self._remb_low_since = None
            if up[1] + 1 < len(self.ladder):
                kbps = max(kbps, self.ladder[up[1] + 1].kbps * p.down_headroom)
        floor = self.ladder[-1].kbps * p.floor_factor
        self.estimate_kbps = max(floor, min(self.estimate_kbps, kbps))
        self._last_cut = now
        on = self.rung
        if (
            self._tried
            and on not in self._held
            and self.estimate_kbps < self.ladder[on].kbps * p.keep_factor
        ):
            # cut from a rung it never held (its start on the top rung, or a probe up): the
            # link never carried it, so it is not tried again soon
            self._barred[on] = max(self._barred.get(on, -1.0), now + p.unproven_bar_s)
