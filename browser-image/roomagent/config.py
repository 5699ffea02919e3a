"""Agent configuration, read from the environment (prefix ``WP_``)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .media.ladder import DEFAULT_LADDER, Rung, parse_ladder
from .media.playout import PlayoutMode


class AgentSettings(BaseSettings):
    """Everything the room agent needs; one instance per process."""

    model_config = SettingsConfigDict(env_prefix="WP_", extra="ignore")

    control_url: str = "ws://127.0.0.1:8000"
    room_id: str = "local"
    agent_secret: str = ""

    # X display to capture. None: the launcher starts Xvfb, PulseAudio and Chromium itself.
    display: str | None = None
    width: int = Field(default=1280, ge=64, le=3840)
    height: int = Field(default=720, ge=64, le=2160)
    fps: int = Field(default=30, ge=1, le=60)
    codec: Literal["h264", "vp8"] = "h264"
    bitrate_kbps: int = Field(default=3000, ge=100, le=50000)
    keyframe_interval_s: float = Field(default=4.0, gt=0)
    # A keyframe on a rung below the top is bounded (x264's VBV buffer) to this many seconds of
    # the rung's bitrate (the top rung's to half a second). The viewers of a lower rung are on
    # links not much faster than the rung, and Chromium counts a frame later than its mean
    # interval + 150 ms as a freeze: with a quarter second a 1.2 Mbit/s + 2 % viewer on 480p
    # froze 1.2-1.5 s in 30 s, at every refresh; with an eighth, 0.0 (docs/performance.md).
    lower_rung_keyframe_s: float = Field(default=0.125, gt=0, le=2)
    # After the holder clicks, types or scrolls, capture at this rate for input_boost_s: the
    # change is on screen half a frame sooner on average (0 = never boost).
    input_boost_fps: int = Field(default=60, ge=0, le=120)
    input_boost_s: float = Field(default=0.5, ge=0)
    # Each boosted frame is also sent to every viewer: with many viewers the extra sending costs
    # more latency than the faster capture saves (docs/performance.md), so no boost above this.
    input_boost_max_viewers: int = Field(default=4, ge=0)
    keyframe_min_gap_ms: int = Field(default=250, ge=0)
    # "damage": grab when the X server reports the screen changed (X DAMAGE), the frame rate
    # only a cap; falls back to "clock" (a grab every 1/fps) where the server lacks DAMAGE.
    # "clock": a grab every 1/fps whatever the screen does (the behaviour before issue 12).
    capture: Literal["damage", "clock"] = "damage"
    # After the first change of a paint, wait this long for the rest of it before grabbing.
    capture_settle_ms: float = Field(default=2.0, ge=0, le=50)
    # While the screen is unchanged (DAMAGE), the last grab is encoded again this many times a
    # second (no grab, no conversion: ~1.4 ms of CPU for a 720p repeat; x264 codes it as skipped
    # macroblocks that also sharpen a static picture). Why not fewer: a Chromium viewer times
    # frames by what it learnt from the frames before, and a sparse stream leaves it guessing:
    # with 2 repeats a second about one click in ten on a static page reached the viewer's
    # screen 200-350 ms late (the aiortc viewer, which shows frames on arrival, saw no such
    # delay), with 10 or 30 none did, nor on the clock
    # (docs/performance.md, "Damage-driven capture"). Also, Chromium asks for a keyframe after 3 s
    # without a frame. 0: nothing but the keyframe every keyframe_interval_s.
    static_fps: float = Field(default=10.0, ge=0, le=60)
    # Encoder trade-off (media/video.py QUALITY): "latency" (x264 ultrafast, bitrate_kbps),
    # "balanced" (superfast, 1.25x the bitrate), "quality" (veryfast, 1.5x the bitrate).
    quality: Literal["latency", "balanced", "quality"] = "latency"
    # Without viewers the video thread sleeps at once; sound capture and the cursor watcher stop
    # after this long (a viewer reloading the page does not restart them).
    idle_grace_s: float = Field(default=5.0, ge=0)
    # Encoder threads; 0 = automatic (see media/video.py: one for VP8, whose threads spin-wait).
    encoder_threads: int = Field(default=0, ge=0, le=16)
    # "shared": one encoder per room (the product). "per_viewer": raw frames to every viewer's
    # sender, which encodes on its own (aiortc's default path); only a benchmark baseline.
    encode_mode: Literal["shared", "per_viewer"] = "shared"
    # How viewers' browsers time the video (media/playout.py): "auto" marks frames "show at once"
    # (RTP playout-delay 0/0) while the room is silent and leaves the browser's own timing, which
    # holds video for lip sync, while it makes a sound; "immediate" and "synced" pin one of the two.
    video_playout: PlayoutMode = "auto"
    # "auto" goes back to "show at once" after this long without sound.
    sync_hold_s: float = Field(default=3.0, ge=0)
    audio_bitrate_kbps: int = Field(default=128, ge=16, le=510)
    # The encoder ladder below the room's own stream (media/ladder.py): `HEIGHTp[@FPS]:KBPS`
    # rungs, best first, comma-separated. Each rung in use is encoded once and sent to the
    # viewers whose bandwidth estimate puts them on it; "" = one rung (everyone gets the top).
    ladder: str = DEFAULT_LADDER
    # Each viewer's video leaves at its estimated rate (media/pacing.py): a keyframe is spread
    # over the next frame intervals instead of burst into a weak link's queue.
    pacing: bool = True

    start_url: str = "about:blank"
    # Tabs the room's browser holds at most (the holder's "New tab" and pages' new windows
    # alike; the control plane passes its ROOM_MAX_TABS).
    max_tabs: int = Field(default=5, ge=1, le=20)
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)
    # Hosts (`name`, `address` or `host:port`) the browser must never connect to: the control
    # plane's addresses and the host's, as the control plane sees them (JSON list).
    blocked_hosts: list[str] = Field(default_factory=list)

    # The ad blocker (adblock/): on until the control plane says otherwise (`auth.ok`,
    # `room.assigned`, `room.settings` carry the room's `block_ads`), applied from the moment the
    # agent's DevTools connection is up. Its filter lists (EasyList, EasyPrivacy:
    # browser-image/adblock-lists.sh puts them there) are compiled when the agent starts, or
    # read compiled: the image's own copy, or one an earlier agent kept in `adblock_cache`
    # (adblock/compiled.py; "" keeps none); without them the room runs unblocked and says so
    # (`adblock_unavailable`).
    block_ads: bool = True
    adblock_lists: str = "/usr/share/watchparty/adblock"
    adblock_cache: str = "~/.cache/watchparty"

    # Chromium DevTools port on 127.0.0.1 (0: let Chromium pick, read DevToolsActivePort).
    cdp_port: int = 0
    pulse_sink: str = "wp_sink"
    # PulseAudio server (e.g. unix:/run/pulse/native) when not launching our own.
    pulse_server: str | None = None
    chromium: str = "/usr/bin/chromium"
    # Chromium managed policy for the browser the launcher starts. Where the machine's
    # /etc/chromium/policies/managed does not already hold it (the image installs it), Chromium
    # runs in a private mount namespace that shows it there (policyns.py). None: the JSON beside
    # the agent's code, browser-image/policies/watchparty.json.
    policy_file: str | None = None
    # The control plane's ROOM_ALLOW_PRIVATE_URLS (development and tests): the policy the
    # launcher installs then leaves loopback and internal hosts out of its URLBlocklist (its
    # schemes stay). The image's installed policy is not changed.
    allow_private_urls: bool = False
    chromium_extra_args: list[str] = Field(default_factory=list)
    # Parent dir for the fresh profile and runtime dirs (removed on exit). None: system temp.
    profile_dir: str | None = None
    # In launch mode the agent also needs audio; set False to run without PulseAudio.
    audio: bool = True

    # "Keep my browser profile": how often the room's profile is saved while it runs (the
    # control plane's PROFILE_SAVE_INTERVAL_SECONDS); it is saved once more as the agent stops.
    profile_save_s: float = Field(default=180.0, gt=0)

    heartbeat_s: float = Field(default=10.0, gt=0)
    # How often the page's media is looked at (player/watcher.py): a change the page makes by
    # itself (the holder clicks the site's own pause) is reported within this; a `media.cmd`'s
    # result at once.
    media_poll_s: float = Field(default=0.25, ge=0.05, le=5)
    # Viewer peers at most (the control plane passes its room capacity plus a margin); an offer
    # past it is refused with `too_many_viewers`.
    max_viewers: int = Field(default=60, ge=1)
    # Offers (each rebuilds a peer) per viewer connection per window; more: `rate_limited`.
    offer_rate_count: int = Field(default=5, ge=1)
    offer_rate_window_s: float = Field(default=10.0, gt=0)
    # A peer younger than this is kept by `peers.sync` even when its connection is not listed
    # (its offer may have overtaken the list).
    peer_sync_grace_s: float = Field(default=10.0, ge=0)
    # Stop the browser and exit after this long without the control plane (no authenticated
    # channel): a room whose control plane is gone for good must not run forever. The control
    # plane passes its ROOM_HEARTBEAT_TIMEOUT_SECONDS, after which it fails the room anyway.
    # 0: never give up.
    control_lost_s: float = Field(default=0.0, ge=0)
    # Clipboard and files (issue 22, clipfiles/): text copied in the room's page goes back to the
    # holder up to this many UTF-8 bytes (more is refused, never cut); the files handed to one
    # file chooser weigh at most this together. The control plane passes its
    # ROOM_CLIPBOARD_MAX_BYTES and ROOM_FILE_MAX_BYTES.
    clipboard_max_bytes: int = Field(default=8192, ge=1, le=16_384)
    file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    log_level: str = "INFO"

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, value: str) -> str:
        parse_ladder(value, 1280, 720, 30, 3000)  # the format only; LadderError is a ValueError
        return value

    def rungs(self) -> list[Rung]:
        """The ladder for this room's stream, best rung first."""
        return parse_ladder(self.ladder, self.width, self.height, self.fps, self.bitrate_kbps)

    @field_validator("ice_servers", "chromium_extra_args", "blocked_hosts", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return json.loads(value) if value else []
        return value
