"""What a room runs on, built together once the browser can start (`agent.Agent._start`)."""

from __future__ import annotations

from dataclasses import dataclass

from .cdp import Browser
from .clipfiles.bridge import ClipFiles
from .cursor import CursorWatcher
from .input.path import InputPath
from .input.xinject import Injector
from .media.audio import AudioPipeline
from .media.playout import PlayoutPolicy
from .media.video import VideoPipeline
from .peers import PeerManager
from .player.watcher import MediaWatcher


@dataclass
class Components:
    """Everything the room runs on, built together once the browser can start. `audio` is None
    only when the agent runs without sound (WP_AUDIO=false)."""

    video: VideoPipeline
    injector: Injector
    input: InputPath
    peers: PeerManager
    cursor: CursorWatcher
    browser: Browser
    audio: AudioPipeline | None
    playout: PlayoutPolicy
    player: MediaWatcher
    clipfiles: ClipFiles
