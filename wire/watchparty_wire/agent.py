"""The agent channel, `/internal/agents/ws` (docs/protocol.md, "Agent channel"): what the room
agent sends (`AGENT_MESSAGES`, "Agent → control plane") and what the control plane sends it
(`CONTROL_MESSAGES`, "Control plane → agent").

The agent is our own code but runs beside an untrusted browser: the control plane reads its
messages as room messages are read, fields coerced and cut to size rather than trusted. The
agent builds the same models to send them (`AgentMessage.data()`), and reads the control plane's
with `envelope.read`, which ignores fields a newer control plane may add.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from watchparty_wire.envelope import Inbound, Outbound, table
from watchparty_wire.room import (
    CLIPBOARD_HARD_MAX_BYTES,
    Click,
    Empty,
    Keypress,
    MediaAction,
    MouseMove,
    Navigate,
    RoomEnded,
    RoomStage,
    Scroll,
)

# ---------------------------------------------------------------- room agent -> control plane


def _text(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda v: str(v if v is not None else "")[:limit])


def _flag(v: Any) -> bool:
    return bool(v)


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str_or_none(v: Any) -> str | None:
    return v[:32] if isinstance(v, str) else None


class AgentMessage(Inbound):
    """A message of the agent's: the control plane validates it, the agent builds it."""

    TYPE: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The wire `data`: the fields the sender set."""
        return self.model_dump(mode="json", exclude_unset=True)


class Heartbeat(AgentMessage):
    """Counters for the logs and tests (docs/protocol.md, "Agent extensions", carried as they
    are: `extra="allow"`); the hub records that the agent is alive and keeps the ladder's figures
    for /metrics (read leniently by the control plane's `agent_media.media_figures`)."""

    model_config = ConfigDict(extra="allow")
    TYPE = "heartbeat"
    rungs: Any = None
    rung_switches: Any = None
    viewer_quality: Any = None


class AgentStage(AgentMessage):
    TYPE = "stage"
    stage: RoomStage


class AgentReady(AgentMessage):
    """The stream's parameters; a value of the wrong type is dropped (null), never an error."""

    TYPE = "ready"
    width: Annotated[int | None, BeforeValidator(_int_or_none)] = None
    height: Annotated[int | None, BeforeValidator(_int_or_none)] = None
    fps: Annotated[int | None, BeforeValidator(_int_or_none)] = None
    codec: Annotated[str | None, BeforeValidator(_str_or_none)] = None

    def video(self) -> dict[str, Any]:
        """The stream's parameters the agent reported (only those it sent)."""
        return self.model_dump(exclude_unset=True)


class AgentBrowserStatus(AgentMessage):
    TYPE = "browser.status"
    url: Annotated[str, _text(2048)] = ""
    title: Annotated[str, _text(300)] = ""
    can_go_back: Annotated[bool, BeforeValidator(_flag)] = False
    can_go_forward: Annotated[bool, BeforeValidator(_flag)] = False
    loading: Annotated[bool, BeforeValidator(_flag)] = False


def _seconds(v: Any) -> float:
    """A finite, non-negative number of seconds (anything else: 0)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) and f >= 0 else 0.0


def _duration(v: Any) -> float | None:
    """Seconds, or None for a live stream or one whose length is unknown (NaN, infinite)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _playback_rate(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 1.0
    return f if math.isfinite(f) else 1.0


class AgentMediaState(AgentMessage):
    """The page's main media element (docs/protocol.md, `media.state`); `present: false` when
    the page has none, and the other fields are then left out when relayed."""

    TYPE = "media.state"
    present: Annotated[bool, BeforeValidator(_flag)] = False
    paused: Annotated[bool, BeforeValidator(_flag)] = True
    time: Annotated[float, BeforeValidator(_seconds)] = 0.0
    duration: Annotated[float | None, BeforeValidator(_duration)] = None
    rate: Annotated[float, BeforeValidator(_playback_rate)] = 1.0
    muted: Annotated[bool, BeforeValidator(_flag)] = False
    ended: Annotated[bool, BeforeValidator(_flag)] = False
    title: Annotated[str, _text(300)] = ""


class AgentMediaEnded(AgentMessage):
    """The main media reached its end: the queue moves on."""

    TYPE = "media.ended"
    url: Annotated[str, _text(2048)] = ""


class AgentAnswer(AgentMessage):
    """Routed by `conn`, falling back to every socket of `to`."""

    TYPE = "rtc.answer"
    to: Annotated[str, _text(64)] = ""
    conn: Annotated[str, _text(64)] = ""
    sdp: Annotated[str, _text(60_000)] = ""


class AgentReport(AgentMessage):
    """An error the agent reports; with `conn`, it is relayed to that viewer."""

    TYPE = "error"
    code: Annotated[str, _text(64)] = ""
    message: Annotated[str, _text(500)] = ""
    conn: Annotated[str, _text(64)] = ""


AGENT_MESSAGES: dict[str, type[AgentMessage]] = table(
    Heartbeat,
    AgentStage,
    AgentReady,
    AgentBrowserStatus,
    AgentMediaState,
    AgentMediaEnded,
    AgentAnswer,
    AgentReport,
)


class AgentAuth(Outbound):
    """The agent's first frame (docs/protocol.md, "Authentication")."""

    TYPE = "auth"
    room_id: str
    secret: str


# ---------------------------------------------------------------- control plane -> agent


# The control plane sends every field of these; the defaults are how the agent reads a message
# that lacks one (an older control plane, a test's stand-in): absent = nothing to apply.


class AuthOk(Outbound):
    TYPE = "auth.ok"
    room_id: str = ""
    holder_id: str | None = None
    # A warm browser waits for `room.assigned`; one that missed it while reconnecting sees
    # here that it has a room now, and which page to load.
    pooled: bool = False
    start_url: str | None = None
    ice_servers: list[dict[str, Any]] | None = None
    # The room's present sockets (every replica's): the agent drops the peers of any other.
    conns: list[str] | None = None
    # The room's `block_ads` setting (a warm browser: the default, until `room.assigned`).
    block_ads: bool = True
    # The room keeps its host's browser profile: the agent loads it (GET /internal/agents/profile)
    # before it opens `start_url`, and saves it back (PUT) while the room runs and as it ends.
    keep_profile: bool = False


class AgentOffer(Outbound):
    TYPE = "rtc.offer"
    from_: str = Field(alias="from")
    conn: str
    sdp: str


class PeerClosed(Outbound):
    TYPE = "peer.closed"
    conn: str


class PeersSync(Outbound):
    """The room's present sockets, every ROOM_AGENT_PEER_SYNC_SECONDS: the agent closes the peer
    of any other connection (its `peer.closed` may have been lost)."""

    TYPE = "peers.sync"
    conns: list[str] = []


class AgentRemoteChanged(Outbound):
    TYPE = "remote.changed"
    holder_id: str | None = None


class RoomAssigned(Outbound):
    TYPE = "room.assigned"
    start_url: str | None = None
    holder_id: str | None = None
    block_ads: bool = True
    # As in `auth.ok`: load the new host's browser profile before opening `start_url`.
    keep_profile: bool = False


class AgentNavigate(Outbound, Navigate):
    TYPE = "browser.navigate"


class AgentBack(Outbound, Empty):
    TYPE = "browser.back"


class AgentForward(Outbound, Empty):
    TYPE = "browser.forward"


class AgentReload(Outbound, Empty):
    TYPE = "browser.reload"


class AgentMouseMove(Outbound, MouseMove):
    TYPE = "browser.mouse_move"


class AgentClick(Outbound, Click):
    TYPE = "browser.click"


class AgentScroll(Outbound, Scroll):
    TYPE = "browser.scroll"


class AgentKeypress(Outbound, Keypress):
    TYPE = "browser.keypress"


class AgentMediaCmd(Outbound):
    """A member's media command, checked by the control plane (docs/protocol.md)."""

    TYPE = "media.cmd"
    OMIT_NONE = True
    action: MediaAction
    # Strict: the agent reading it takes a number, never a string or a boolean made one.
    value: Annotated[float | None, Field(strict=True)] = None
    # The socket that asked: a `media.refused` goes back to it alone.
    conn: str = ""


class IceServers(Outbound):
    TYPE = "ice_servers"
    ice_servers: list[dict[str, Any]] = []


class AgentError(Outbound):
    TYPE = "error"
    code: str
    message: str


class AgentRoomSettings(Outbound):
    """The room's settings that the agent applies (issue 22): `block_ads` turns the ad blocker on
    or off at once."""

    TYPE = "room.settings"
    block_ads: bool


# Holder input a room socket sends, as the agent receives it (same fields, checked once).
_INPUT: tuple[type[Outbound], ...] = (
    AgentBack,
    AgentForward,
    AgentReload,
    AgentMouseMove,
    AgentClick,
    AgentScroll,
    AgentKeypress,
)
FORWARDED_INPUT: dict[str, type[Outbound]] = table(*_INPUT)

CONTROL_MESSAGES: dict[str, type[Outbound]] = table(
    AuthOk,
    AgentOffer,
    PeerClosed,
    PeersSync,
    AgentRemoteChanged,
    RoomAssigned,
    AgentNavigate,
    *_INPUT,
    AgentMediaCmd,
    IceServers,
    RoomEnded,
    AgentError,
    AgentRoomSettings,
)


# ---------------------------------------------------------------- tabs (issue 22)

# How many tabs a `tabs.state` may list (the agent's own cap is at most 20).
TABS_MAX_LISTED = 20


class AgentTab(Inbound):
    id: Annotated[str, _text(64)] = ""
    title: Annotated[str, _text(300)] = ""
    url: Annotated[str, _text(2048)] = ""


def _tab_list(v: Any) -> Any:
    return list(v)[:TABS_MAX_LISTED] if isinstance(v, list | tuple) else []


def _tab_cap(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100 else 1


class AgentTabsState(AgentMessage):
    """The room browser's tabs in strip order and the one on screen (`active`), on every
    change; `max` is the agent's cap (WP_MAX_TABS)."""

    TYPE = "tabs.state"
    tabs: Annotated[list[AgentTab], BeforeValidator(_tab_list)] = []
    active: Annotated[
        str | None, BeforeValidator(lambda v: v[:64] if isinstance(v, str) else None)
    ] = None
    max: Annotated[int, BeforeValidator(_tab_cap)] = 1


class MemberRefusal(AgentMessage):
    """A member's command the agent did not carry out (`type`: which), for the socket `conn`
    alone: relayed to it as `error {code, detail: message, type}`, like the control plane's own
    refusals (the page changed since the control plane last heard of it)."""

    type: Annotated[str, _text(32)] = ""
    code: Annotated[str, _text(64)] = ""
    message: Annotated[str, _text(500)] = ""
    conn: Annotated[str, _text(64)] = ""


class AgentTabsRefused(MemberRefusal):
    """A `tabs.*` command refused (a page may have opened a tab since the last `tabs.state`)."""

    TYPE = "tabs.refused"


class AgentMediaRefused(MemberRefusal):
    """A `media.cmd` refused: `no_media` when the page's media went away since the last
    `media.state` (the control plane refuses at once when that state already said so)."""

    TYPE = "media.refused"


class AgentTabsOpen(Outbound):
    """The holder opens a tab (`url` already checked against the URL policy; null: blank).
    `by` is who asked (the agent obeys the current holder only), `conn` their socket (an
    `error` with it reaches them)."""

    TYPE = "tabs.open"
    url: str | None = None
    by: str
    conn: str


class AgentTabsSwitch(Outbound):
    TYPE = "tabs.switch"
    id: str
    by: str
    conn: str


class AgentTabsClose(Outbound):
    TYPE = "tabs.close"
    id: str
    by: str
    conn: str


AGENT_MESSAGES.update(table(AgentTabsState, AgentTabsRefused, AgentMediaRefused))
CONTROL_MESSAGES.update(table(AgentTabsOpen, AgentTabsSwitch, AgentTabsClose))


# ---------------------------------------------------------------- clipboard and files (issue 22)
# (docs/protocol.md, "Clipboard and files"). The agent says who held the remote when the page
# copied or opened its chooser (`holder_id`): the control plane relays to that user only while
# they still hold it. What the control plane forwards names its sender (`by`): the agent drops
# it unless that is its holder, as it drops anyone else's input.


def _id(v: Any) -> str:
    s = str(v if v is not None else "")[:64]
    return s if s.replace("-", "").replace("_", "").isalnum() else ""


def _count(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


class AgentClipboardCopied(AgentMessage):
    TYPE = "clipboard.copied"
    # Empty when the copy was over the agent's cap; `size` is its UTF-8 length either way.
    text: Annotated[str, _text(CLIPBOARD_HARD_MAX_BYTES)] = ""
    size: Annotated[int, BeforeValidator(_count)] = 0
    holder_id: Annotated[str, _text(64)] = ""


class AgentFileChooser(AgentMessage):
    TYPE = "file.chooser"
    id: Annotated[str, BeforeValidator(_id)] = ""
    multiple: Annotated[bool, BeforeValidator(_flag)] = False
    accept: Annotated[str, _text(500)] = ""
    holder_id: Annotated[str, _text(64)] = ""


class AgentFileStatus(AgentMessage):
    TYPE = "file.status"
    id: Annotated[str, BeforeValidator(_id)] = ""
    to: Annotated[str, _text(64)] = ""
    state: Literal["progress", "done", "failed", "cancelled"] = "failed"
    received: Annotated[int, BeforeValidator(_count)] = 0
    detail: Annotated[str, _text(300)] = ""


class AgentDownloadRefused(AgentMessage):
    TYPE = "download.refused"
    filename: Annotated[str, _text(255)] = ""
    url: Annotated[str, _text(2048)] = ""
    holder_id: Annotated[str, _text(64)] = ""


AGENT_MESSAGES.update(
    table(AgentClipboardCopied, AgentFileChooser, AgentFileStatus, AgentDownloadRefused)
)


class AgentClipboardPaste(Outbound):
    TYPE = "clipboard.paste"
    text: str
    by: str


class AgentFileUpload(Outbound):
    TYPE = "file.upload"
    id: str
    files: list[dict[str, Any]]
    by: str


class AgentFileChunk(Outbound):
    TYPE = "file.chunk"
    id: str
    index: int
    offset: int
    b64: str
    by: str


class AgentFileCancel(Outbound):
    TYPE = "file.cancel"
    id: str
    by: str


CONTROL_MESSAGES.update(
    table(AgentClipboardPaste, AgentFileUpload, AgentFileChunk, AgentFileCancel)
)
