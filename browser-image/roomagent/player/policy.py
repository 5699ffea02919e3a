"""What the room's main media element is, and when its state is reported (pure policy).

The watcher (`player/watcher.py`) reads every media element of every frame of the room's page
(candidates); this module chooses the main one, turns it into the `media.state` of
docs/protocol.md, decides when a state goes out and when the media has ended, and checks a
`media.cmd`. Nothing here talks to the browser or the control plane, so it is tested alone
(tests/unit/test_agent_player.py).

Reporting (the contract): on every change (play, pause, seek, rate, mute, duration, ended, title,
media appearing or going), every `HEARTBEAT_S` while playing, and never more than one state per
`MIN_INTERVAL_S` (the control plane's agent flood guard counts frames). A change that comes sooner
is held, not dropped: it stays a change against the last state *sent*, so the next look after the
interval sends the latest one (coalescing: the latest wins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# At most five states a second, and one every half second while playing (docs/protocol.md): a
# little over 0.2 s apart, so no one-second window holds six, however it falls and whatever the
# network's jitter does to their spacing on the way.
MIN_INTERVAL_S = 0.21
HEARTBEAT_S = 0.5
# A playing medium's time that is further than this from where its rate should have taken it
# since the last report was moved (a seek, a stall, a loop back to the start): a change. Not
# less: between the page reading its clock and the agent's look lie a DevTools round trip and
# a busy machine's scheduling.
SEEK_TOLERANCE_S = 1.0
# A paused medium's time does not move: past this, it was sought.
PAUSED_TOLERANCE_S = 0.05
TITLE_MAX_CHARS = 300
# HTMLMediaElement.readyState: HAVE_METADATA. Below it the element knows neither its duration
# nor its size: nothing a room could watch yet.
HAVE_METADATA = 1
# A new candidate must be this much larger than the current main one to take its place: two
# videos of nearly the same size (a preview and the film) do not take turns being "main".
SWITCH_FACTOR = 1.25
RATE_MIN, RATE_MAX = 0.25, 4.0
ACTIONS = ("play", "pause", "seek", "seek_by", "rate")

NO_MEDIA: dict[str, Any] = {"present": False}


@dataclass(frozen=True)
class Candidate:
    """One media element as the page shows it now. `key` names it for as long as it lives:
    (DevTools session, frame id, the probe's isolated world, element number in that world)."""

    key: tuple[str, str, int, int]
    video: bool
    area: float  # CSS px² of it inside its frame's viewport (0: hidden, off-screen, audio)
    ready_state: int
    paused: bool
    time: float
    duration: float | None  # None: live or unknown
    rate: float
    muted: bool
    ended: bool
    ends: int  # `ended` events seen since the probe was installed
    title: str = ""  # the media's own title (Media Session metadata), "" when none

    @property
    def has_data(self) -> bool:
        return self.ready_state >= HAVE_METADATA

    @property
    def playing(self) -> bool:
        return not self.paused and not self.ended


def choose_main(
    candidates: list[Candidate], current: tuple[str, str, int, int] | None
) -> Candidate | None:
    """The page's main media element: it has data; the largest visible video wins, a playing
    one over a paused one of the same size; with no visible video, a playing, unmuted `<audio>`
    (an audio page), else none (a hidden video is not watched, whatever it plays). The current
    main one stays while it is still a candidate and no other is `SWITCH_FACTOR` times larger
    (or it became invisible while another shows)."""
    usable = [c for c in candidates if c.has_data]
    visible = [c for c in usable if c.video and c.area > 0]
    if visible:
        best = max(visible, key=lambda c: (c.area, c.playing))
        keep = next((c for c in visible if c.key == current), None)
        if keep is not None and best.area < keep.area * SWITCH_FACTOR:
            return keep
        return best
    audible = [c for c in usable if not c.video and c.playing and not c.muted]
    if audible:
        keep = next((c for c in audible if c.key == current), None)
        return keep or audible[0]
    return None


def state_of(main: Candidate | None, page_title: str) -> dict[str, Any]:
    """The `media.state` data for the main element (or `{present: false}`)."""
    if main is None:
        return dict(NO_MEDIA)
    duration = main.duration
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        duration = None
    return {
        "present": True,
        "paused": main.paused,
        "time": round(max(0.0, main.time), 3),
        "duration": None if duration is None else round(duration, 3),
        "rate": main.rate,
        "muted": main.muted,
        "ended": main.ended,
        "title": (main.title or page_title)[:TITLE_MAX_CHARS],
    }


def _discrete(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "time"}


class Reporter:
    """When a `media.state` goes out. One per room; `offer` is called at every look at the page
    (and right after a command) with what it shows now; it answers whether to send it."""

    def __init__(
        self,
        min_interval_s: float = MIN_INTERVAL_S,
        heartbeat_s: float = HEARTBEAT_S,
        seek_tolerance_s: float = SEEK_TOLERANCE_S,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.heartbeat_s = heartbeat_s
        self.seek_tolerance_s = seek_tolerance_s
        self.last: dict[str, Any] | None = None
        self.sent_at = -math.inf
        self.held = False

    def changed(self, now: float, state: dict[str, Any]) -> bool:
        """A change against the last state sent (time moving at its rate is not one)."""
        last = self.last
        if last is None or _discrete(state) != _discrete(last):
            return True
        if not state.get("present"):
            return False
        expected = float(last["time"])
        if last["paused"] or last["ended"]:
            # Still: any move is a seek (rounding aside).
            return abs(float(state["time"]) - expected) > PAUSED_TOLERANCE_S
        expected += (now - self.sent_at) * float(last["rate"])
        return abs(float(state["time"]) - expected) > self.seek_tolerance_s

    def offer(self, now: float, state: dict[str, Any]) -> bool:
        """True: send `state` now (it is then the last sent). False: nothing to send, or a change
        held until `wait(now)` has passed."""
        due = self.changed(now, state) or (
            bool(state.get("present"))
            and not state["paused"]
            and not state["ended"]
            and now - self.sent_at >= self.heartbeat_s
        )
        # A change (or heartbeat) too soon after the last state is held: the next look after
        # `wait(now)` offers the latest one.
        self.held = due and now - self.sent_at < self.min_interval_s
        if not due or self.held:
            return False
        self.last = dict(state)
        self.sent_at = now
        return True

    def wait(self, now: float) -> float:
        """Seconds until a held change may go (0: now)."""
        return max(0.0, self.sent_at + self.min_interval_s - now)


def ended_now(previous: Candidate | None, current: Candidate | None) -> bool:
    """The main media reached its end since the last look: the same element, and it fired
    `ended` again or its `ended` flag rose (a look may fall between the event and a page that
    starts it again, or before the probe's listener was in place). Once per end."""
    if previous is None or current is None or previous.key != current.key:
        return False
    return current.ends > previous.ends or (current.ended and not previous.ended)


class BadCommand(ValueError):
    pass


def parse_command(data: dict[str, Any]) -> tuple[str, float | None]:
    """A `media.cmd`'s (action, value), checked: `seek` needs a time ≥ 0, `seek_by` a finite
    offset, `rate` a rate (clamped to 0.25..4)."""
    action = data.get("action")
    if action not in ACTIONS:
        raise BadCommand(f"unknown media action {action!r}")
    if action in ("play", "pause"):
        return str(action), None
    value = data.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadCommand(f"{action} needs a number")
    value = float(value)
    if action == "seek":
        return "seek", max(0.0, value)
    if action == "rate":
        if value <= 0:
            raise BadCommand("rate must be above 0")
        return "rate", min(RATE_MAX, max(RATE_MIN, value))
    return "seek_by", value
