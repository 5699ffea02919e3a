"""What the agent's heartbeat reports (docs/protocol.md, `heartbeat`): `AgentStats`, sampled by
`StatsSampler` from the room's components. Rates (fps, bitrate, per-frame times, each rung's
encode CPU) are over the time since the previous sample; counters are totals since start.

Only the heartbeat loop samples (on the event loop); the capture thread's counters it reads are
plain numbers, read without a lock (a sample may be one frame behind).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from .components import Components
from .media.fanout import Broadcaster
from .media.ladder import rung_names
from .media.playout import IMMEDIATE


@dataclass(frozen=True)
class RungStats:
    """One encoder rung since the last heartbeat: `encode_cpu_percent` (% of a core: scaling
    and encoding in the capture thread; the top rung's libx264 slice threads are not in it, the
    lower rungs encode on one thread) and `encode_ms` (wall time per frame)."""

    rung: str
    width: int
    height: int
    fps: int
    kbps: int
    viewers: int
    active: bool
    frames: int
    keyframes: int
    keyframe_requests: int
    encode_cpu_percent: float
    encode_ms: float


@dataclass(frozen=True)
class AgentStats:
    """One heartbeat's figures, in the order they go on the wire (`wire()`)."""

    viewers: int
    fps: float
    encode_ms: float
    bitrate_kbps: float
    dropped_frames: int
    dropped_input: int
    cpu_percent: float
    rss_mb: float
    # extension: grab + bgr0->yuv420p conversion, and the capture thread's CPU per frame
    capture_ms: float
    capture_cpu_ms: float
    # counters (extension): let tests and the control plane verify "encode once"
    frames_encoded: int
    grabs: int
    repeats: int
    damage_driven: bool
    damage_events: int
    cursor_polls: int
    audio_running: bool
    audio_starts: int
    # lip-sync stages (extension): the sink's render-ahead, the latest chunk read
    audio_sink_ahead_ms: float
    audio_max_read_lag_ms: float
    # lip sync vs show-at-once (extension, media/playout.py): what the video carries now, how
    # often it changed, how many viewers' browsers take it
    video_playout: str
    playout_switches: int
    playout_delay_viewers: int
    ticks_skipped: int
    boosted_frames: int
    keyframes: int
    keyframe_requests: int
    packets_delivered: int
    # the encoder ladder (extension, issue 18): per rung, and each viewer's estimate
    rungs: list[RungStats]
    rung_switches: int
    viewer_quality: list[dict[str, Any]]
    applied_input: int
    # the room browser's guard (extension): the key policy's drops, windows reopened, targets
    # on blocked schemes closed or sent back, how the managed policy applies
    blocked_keys: dict[str, int]
    window_reopens: int
    guarded_targets: int
    browser_policy: str
    # tabs (issue 22): how many, and pages' new windows closed because all tabs were open
    tabs: int
    tabs_refused: int
    # the page's media (extension, player/): looks at it and media commands carried out
    media_looks: int
    media_commands: int
    # clipboard and files (extension, clipfiles/): pastes inserted, copies sent back to the
    # holder, files handed to the page, and their messages dropped as not the holder's
    clipboard_pastes: int
    clipboard_copies: int
    files_handed: int
    clipfiles_dropped: int
    audio_frames: int
    audio_packets: int

    def wire(self) -> dict[str, Any]:
        """The heartbeat's `data`."""
        return asdict(self)


@dataclass(frozen=True)
class _VideoSample:
    """The video counters a rate is computed from, at one moment."""

    at: float
    frames: int
    encode_s: float
    capture_s: float
    cpu_s: float
    bytes_sent: int


@dataclass(frozen=True)
class _VideoRates:
    fps: float
    encode_ms: float
    capture_ms: float
    capture_cpu_ms: float
    bitrate_kbps: float
    dt: float


class StatsSampler:
    def __init__(self, *, t0: float, video_bc: Broadcaster, audio_bc: Broadcaster) -> None:
        self.video_bc = video_bc
        self.audio_bc = audio_bc
        self._prev = _VideoSample(t0, 0, 0.0, 0.0, 0.0, 0)
        self._rung_prev: dict[int, tuple[float, float, int]] = {}
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)  # the first call only starts psutil's interval

    def sample(self, parts: Components, *, browser_policy: str) -> AgentStats:
        rates = self._video_rates(parts)
        v, audio, peers = parts.video, parts.audio, parts.peers
        return AgentStats(
            viewers=len(peers.viewers),
            fps=rates.fps,
            encode_ms=rates.encode_ms,
            bitrate_kbps=rates.bitrate_kbps,
            dropped_frames=self.video_bc.dropped(),
            dropped_input=parts.input.dropped,
            cpu_percent=round(self._proc.cpu_percent(None), 1),
            rss_mb=round(self._proc.memory_info().rss / 1e6, 1),
            capture_ms=rates.capture_ms,
            capture_cpu_ms=rates.capture_cpu_ms,
            frames_encoded=v.frames_encoded,
            grabs=v.grabs,
            repeats=v.repeats,
            damage_driven=v.damage_driven,
            damage_events=v.damage_events,
            cursor_polls=parts.cursor.polls,
            audio_running=audio.running if audio is not None else False,
            audio_starts=audio.starts if audio is not None else 0,
            audio_sink_ahead_ms=round(1000 * audio.sink_ahead, 1) if audio else 0,
            audio_max_read_lag_ms=round(1000 * audio.max_read_lag, 1) if audio else 0,
            video_playout=(
                "immediate" if parts.playout.limits(time.monotonic()) == IMMEDIATE else "synced"
            ),
            playout_switches=parts.playout.switches,
            playout_delay_viewers=sum(1 for w in peers.viewers.values() if w.playout_delay),
            ticks_skipped=v.ticks_skipped,
            boosted_frames=v.boosted_frames,
            keyframes=v.keyframes,
            keyframe_requests=v.keyframe_requests,
            packets_delivered=sum(t.delivered for t in self.video_bc.tracks),
            rungs=self._rung_stats(parts, rates.dt),
            rung_switches=peers.rung_switches,
            viewer_quality=peers.viewer_stats(),
            applied_input=parts.input.applied,
            blocked_keys=dict(parts.input.blocked_keys),
            window_reopens=parts.browser.reopens,
            guarded_targets=parts.browser.guarded,
            browser_policy=browser_policy,
            tabs=len(parts.browser.tabs_state()["tabs"]),
            tabs_refused=parts.browser.tabs_refused,
            media_looks=parts.player.looks,
            media_commands=parts.player.commands,
            clipboard_pastes=parts.clipfiles.pastes,
            clipboard_copies=parts.clipfiles.copies_sent,
            files_handed=parts.clipfiles.files.handed,
            clipfiles_dropped=parts.clipfiles.dropped + parts.clipfiles.files.dropped,
            audio_frames=audio.frames_encoded if audio is not None else 0,
            audio_packets=self.audio_bc.packets,
        )

    def _video_rates(self, parts: Components) -> _VideoRates:
        """The video's rates since the previous sample (the first: since the agent started)."""
        v = parts.video
        cur = _VideoSample(
            time.monotonic(),
            v.frames_encoded,
            v.encode_seconds,
            v.capture_seconds,
            v.cpu_seconds,
            self.video_bc.bytes,
        )
        prev, self._prev = self._prev, cur
        dt = max(1e-6, cur.at - prev.at)
        frames = cur.frames - prev.frames

        def per_frame_ms(now: float, before: float) -> float:
            return round(1000 * (now - before) / frames, 2) if frames else 0.0

        return _VideoRates(
            fps=round(frames / dt, 1),
            encode_ms=per_frame_ms(cur.encode_s, prev.encode_s),
            capture_ms=per_frame_ms(cur.capture_s, prev.capture_s),
            capture_cpu_ms=per_frame_ms(cur.cpu_s, prev.cpu_s),
            bitrate_kbps=round((cur.bytes_sent - prev.bytes_sent) * 8 / dt / 1000, 1),
            dt=dt,
        )

    def _rung_stats(self, parts: Components, dt: float) -> list[RungStats]:
        """Each rung's viewers, frames, keyframes and encode CPU since the last sample."""
        viewers = self.video_bc.viewers_per_rung()
        prev = self._rung_prev
        out = []
        for r, name in zip(parts.video.rungs, rung_names(parts.video.ladder), strict=True):
            cpu0, busy0, frames0 = prev.get(r.index, (0.0, 0.0, 0))
            cpu, busy, frames = r.cpu_seconds - cpu0, r.busy_seconds - busy0, r.frames - frames0
            prev[r.index] = (r.cpu_seconds, r.busy_seconds, r.frames)
            out.append(
                RungStats(
                    rung=name,
                    width=r.rung.width,
                    height=r.rung.height,
                    fps=r.rung.fps,
                    kbps=r.rung.kbps,
                    viewers=viewers.get(r.index, 0),
                    active=r.active,
                    frames=r.frames,
                    keyframes=r.keyframes,
                    keyframe_requests=r.keyframe_requests,
                    encode_cpu_percent=round(100 * cpu / dt, 1),
                    encode_ms=round(1000 * busy / frames, 2) if frames else 0.0,
                )
            )
        return out
