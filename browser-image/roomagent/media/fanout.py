"""Fan-out of encoded packets to every viewer through latest-wins bounded queues.

Video comes in rungs (media/ladder.py): every packet is published with the rung it was encoded
for, and each viewer's track takes the packets of its own rung. A viewer moves to another rung
(``PacketTrack.move_to``) at that rung's next keyframe, on the same track, so the same RTP stream
(SSRC, sequence numbers) goes on and the decoder takes the new resolution at the keyframe.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class _FanoutTrack(MediaStreamTrack):
    """A viewer's track fed by a broadcaster: stopping it wakes its reader and tells the owner."""

    def __init__(self) -> None:
        super().__init__()
        self._event = asyncio.Event()
        self.on_stop: Callable[[], None] | None = None

    def stop(self) -> None:
        super().stop()
        self._event.set()
        if self.on_stop is not None:
            cb, self.on_stop = self.on_stop, None
            cb()


class PacketTrack(_FanoutTrack):
    """A track whose ``recv()`` yields pre-encoded ``av.Packet``s (aiortc only packs them).

    The queue is bounded: when a slow viewer falls behind, the oldest packet is dropped. A video
    viewer that lost a packet skips deltas until the next keyframe and asks the source for one.
    """

    def __init__(
        self,
        kind: str,
        maxlen: int,
        on_need_keyframe: Callable[[int], None] | None = None,
        on_rung: Callable[[], None] | None = None,
        watched_by_others: Callable[[int], bool] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        # whether other viewers take packets from a rung (their picture pays for a keyframe)
        self._watched_by_others = watched_by_others
        self._queue: collections.deque[av.Packet] = collections.deque(maxlen=maxlen)
        self._on_need_keyframe = on_need_keyframe
        # told when the rungs this track takes packets from change (the encoder's active rungs)
        self._on_rung = on_rung
        self._video = kind == "video"
        self.need_keyframe = self._video
        self._started = False
        self.dropped = 0
        self.delivered = 0
        # the rung this viewer's packets come from, and the one it moves to at its next keyframe
        self.rung = 0
        self.target: int | None = None
        self._target_asked = False  # the target rung was asked for a keyframe (move_to)
        self.switches = 0
        self._last_pts: int | None = None  # of the last packet handed to the sender
        # called with each packet's size as the sender takes it (the rate sent to this viewer)
        self.on_delivered: Callable[[av.Packet], None] | None = None

    def move_to(self, rung: int, ask_keyframe: bool = True) -> None:
        """Take packets from `rung` from its next keyframe on: asked for now, or, with
        `ask_keyframe` false, the one the rung's encoder makes anyway (every
        keyframe_interval_s), so the other viewers on that rung get no extra keyframe."""
        target = None if rung == self.rung else rung
        if target == self.target:
            return
        self.target = target
        self._target_asked = target is not None and ask_keyframe
        if self._on_rung is not None:
            self._on_rung()
        if self._target_asked and self._on_need_keyframe is not None:
            self._on_need_keyframe(rung)

    def need_keyframe_now(self) -> None:
        """The viewer lost a picture (PLI/FIR): a keyframe of the rung it is switching to if it
        asked that rung for one already (it waits for it anyway), else of its own (a switch
        that waits for the target's periodic keyframe does not make the target's other viewers
        pay for this viewer's loss)."""
        if self._on_need_keyframe is not None:
            asked = self.target is not None and self._target_asked
            self._on_need_keyframe(self.target if asked and self.target is not None else self.rung)

    def push(self, packet: av.Packet, rung: int = 0) -> None:
        if self.readyState != "live":
            return
        if rung != self.rung:
            if rung != self.target or not packet.is_keyframe:
                return
            # The target rung's keyframe: switch here. What is queued of the old rung is older
            # than this picture; a frame of the old rung from the same grab may have gone to
            # the sender already, and two frames may not share an RTP timestamp.
            self._queue.clear()
            self.rung, self.target = rung, None
            self.need_keyframe = False
            self.switches += 1
            last = self._last_pts
            if last is not None and packet.pts is not None and packet.pts <= last:
                packet = _restamped(packet, last + 1)
            if self._on_rung is not None:
                self._on_rung()
            self._append(packet)
            return
        if self._video and self.need_keyframe:
            if not packet.is_keyframe:
                self.dropped += 1
                return
            self.need_keyframe = False
        if len(self._queue) == self._queue.maxlen:
            self._queue.popleft()
            self.dropped += 1
            if self._video:
                # The decoder now misses a reference: wait for the next keyframe.
                self._queue.clear()
                if not packet.is_keyframe:
                    self.need_keyframe = True
                    self.dropped += 1
                    # An overflow is this viewer's link falling behind its rung: on a rung
                    # others watch it waits for the rung's periodic keyframe (or a move down,
                    # which asks the lower rung) instead of sending all of them a keyframe
                    # that would overflow here again.
                    shared = self._watched_by_others is not None and self._watched_by_others(
                        self.rung
                    )
                    if self._on_need_keyframe and not shared:
                        self._on_need_keyframe(self.rung)
                    return
        self._append(packet)

    def _append(self, packet: av.Packet) -> None:
        self._queue.append(packet)
        self._event.set()

    async def recv(self) -> av.Packet:
        if not self._started:
            # The sender starts pulling once the connection is up: start from a fresh keyframe.
            self._started = True
            if self._video:
                self._queue.clear()
                self.need_keyframe = True
                if self._on_need_keyframe:
                    self._on_need_keyframe(self.rung)
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._event.clear()
            await self._event.wait()
        self.delivered += 1
        packet = self._queue.popleft()
        if packet.pts is not None:
            self._last_pts = packet.pts
        if self.on_delivered is not None:
            self.on_delivered(packet)
        return packet


def _restamped(packet: av.Packet, pts: int) -> av.Packet:
    """A copy of a shared packet with another pts (the original goes to other viewers too)."""
    copy = av.Packet(bytes(packet))
    copy.pts = copy.dts = pts
    if packet.time_base is not None:
        copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy


class FrameTrack(_FanoutTrack):
    """Raw frames, latest wins, for the per-viewer-encoding baseline (aiortc encodes per sender).

    Only used to benchmark against (``WP_ENCODE_MODE=per_viewer``): every viewer's sender then
    runs its own aiortc encoder, which is what the shared encoder exists to avoid.
    """

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._frame: av.VideoFrame | None = None
        self.dropped = 0
        self.delivered = 0

    def push(self, frame: av.VideoFrame) -> None:
        if self._frame is not None:
            self.dropped += 1
        self._frame = frame
        self._event.set()

    async def recv(self) -> av.VideoFrame:
        while self._frame is None:
            if self.readyState != "live":
                raise MediaStreamError
            self._event.clear()
            await self._event.wait()
        frame, self._frame = self._frame, None
        self.delivered += 1
        return frame


class FrameBroadcaster:
    """Raw frames to every viewer's own encoder (the baseline); see ``FrameTrack``."""

    def __init__(self) -> None:
        self.tracks: set[FrameTrack] = set()

    def subscribe(self) -> FrameTrack:
        track = FrameTrack()
        track.on_stop = lambda: self.tracks.discard(track)
        self.tracks.add(track)
        return track

    def publish(self, frame: av.VideoFrame) -> None:
        for track in list(self.tracks):
            track.push(frame)


class Broadcaster:
    """Holds the live viewer tracks of one encoded stream."""

    def __init__(self, kind: str, maxlen: int) -> None:
        self.kind = kind
        self.maxlen = maxlen
        self.tracks: set[PacketTrack] = set()
        # The rungs some track takes packets from or moves to: what the encoder must make.
        # Replaced whole on the loop, read whole by the capture thread (no lock needed).
        self.active: frozenset[int] = frozenset()
        # Called when the set of viewer tracks changes (a media source starts or stops on it).
        self.on_change: list[Callable[[], None]] = []
        self.packets = 0
        self.bytes = 0
        self.dropped_closed = 0

    def _remove(self, track: PacketTrack) -> None:
        if track in self.tracks:
            self.tracks.discard(track)
            self.dropped_closed += track.dropped
            self._changed()

    def _changed(self) -> None:
        self._recount()
        for cb in list(self.on_change):
            cb()

    def _recount(self) -> None:
        rungs = {t.rung for t in self.tracks}
        rungs.update(t.target for t in self.tracks if t.target is not None)
        self.active = frozenset(rungs)

    def viewers_per_rung(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for t in self.tracks:
            counts[t.rung] = counts.get(t.rung, 0) + 1
        return counts

    def subscribe(
        self, on_need_keyframe: Callable[[int], None] | None = None, rung: int = 0
    ) -> PacketTrack:
        track = PacketTrack(
            self.kind,
            self.maxlen,
            on_need_keyframe,
            on_rung=self._recount,
            watched_by_others=lambda rung: any(
                t is not track and t.rung == rung for t in self.tracks
            ),
        )
        track.rung = rung
        track.on_stop = lambda: self._remove(track)
        self.tracks.add(track)
        self._changed()
        return track

    def publish(self, packet: av.Packet, rung: int = 0) -> None:
        self.packets += 1
        self.bytes += packet.size
        for track in list(self.tracks):
            track.push(packet, rung)

    def dropped(self) -> int:
        return self.dropped_closed + sum(t.dropped for t in self.tracks)
