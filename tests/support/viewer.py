"""A real aiortc viewer signalled through the room WebSocket, as the room page does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from tests.support.frames import is_colour, pixel
from tests.support.rooms import Socket


def rtc_ice_servers(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
    ]


class HubViewer:
    """Offers recvonly video + audio to `to: "agent"` and decodes what comes back."""

    def __init__(
        self, room: Socket, *, ice_servers: list[dict[str, Any]], relay_only: bool = False
    ) -> None:
        self.room = room
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=rtc_ice_servers(ice_servers), iceTransportPolicy=policy)
        )
        self.frames: list[tuple[float, int, int]] = []
        self.last_frame: av.VideoFrame | None = None
        self.audio_frames = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, *, within: float = 30) -> str:
        pc = self.pc
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        pc.createDataChannel("pointer", ordered=False, maxRetransmits=0)
        pc.createDataChannel("input")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._consume(track)))

        await pc.setLocalDescription(await pc.createOffer())
        await self.room.send("rtc.offer", {"to": "agent", "sdp": pc.localDescription.sdp})
        answer = await self.room.expect("rtc.answer", within=within)
        assert answer["data"]["from"] == "agent"
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["data"]["sdp"], type="answer")
        )
        return str(answer["data"]["sdp"])

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    self.frames.append((time.monotonic(), frame.width, frame.height))
                    self.last_frame = frame
                elif isinstance(frame, av.AudioFrame):
                    self.audio_frames += 1

    async def wait_frames(self, n: int, *, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while len(self.frames) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"decoded {len(self.frames)} frames, wanted {n}")
            await asyncio.sleep(0.05)

    async def wait_colour(
        self, rgb: tuple[int, int, int], *, within: float = 30, tolerance: int = 40
    ) -> float:
        """When the centre of a decoded frame first showed `rgb` (monotonic clock)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            frame = self.last_frame
            if frame is not None:
                centre = pixel(frame, frame.width // 2, frame.height // 2)
                if is_colour(centre, rgb, tolerance):
                    return time.monotonic()
            await asyncio.sleep(0.02)
        raise AssertionError(f"no frame showed {rgb} within {within} s")

    def selected_candidate_types(self) -> tuple[str, str] | None:
        """(local, remote) candidate types of the nominated ICE pair, e.g. ("relay", "host")."""
        for transceiver in self.pc.getTransceivers():
            transport = transceiver.receiver.transport
            if transport is None:
                continue
            pair = transport.transport.iceGatherer._connection._nominated.get(1)  # aioice internals
            if pair is not None:
                return pair.local_candidate.type, pair.remote_candidate.type
        return None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
