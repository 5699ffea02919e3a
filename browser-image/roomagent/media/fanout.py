"""Fan-out of encoded packets to every viewer through latest-wins bounded queues."""

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
        on_need_keyframe: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._queue: collections.deque[av.Packet] = collections.deque(maxlen=maxlen)
        self._on_need_keyframe = on_need_keyframe
        self._video = kind == "video"
        self.need_keyframe = self._video
        self._started = False
        self.dropped = 0
        self.delivered = 0

    def push(self, packet: av.Packet) -> None:
        if self.readyState != "live":
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
                    if self._on_need_keyframe:
                        self._on_need_keyframe()
                    return
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
                    self._on_need_keyframe()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._event.clear()
            await self._event.wait()
        self.delivered += 1
        return self._queue.popleft()


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
        for cb in list(self.on_change):
            cb()

    def subscribe(self, on_need_keyframe: Callable[[], None] | None = None) -> PacketTrack:
        track = PacketTrack(self.kind, self.maxlen, on_need_keyframe)
        track.on_stop = lambda: self._remove(track)
        self.tracks.add(track)
        self._changed()
        return track

    def publish(self, packet: av.Packet) -> None:
        self.packets += 1
        self.bytes += packet.size
        for track in list(self.tracks):
            track.push(packet)

    def dropped(self) -> int:
        return self.dropped_closed + sum(t.dropped for t in self.tracks)
