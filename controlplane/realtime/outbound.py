"""Every message the control plane sends, as a typed model (docs/protocol.md, both directions).

`ROOM_MESSAGES` are what room sockets receive ("Server → client"), `AGENT_MESSAGES` what the
room agent receives ("Control plane → agent"); `tests/unit/test_protocol_doc.py` holds both
tables against the documentation. A model's `TYPE` is its wire name, so a message and its name
cannot drift apart, and `data()` is the wire `data` object.

Fields that are null on the wire are `None` here; a model with `OMIT_NONE` leaves them out
instead (the optional parts of `room.status`, `error` and the agent's `rtc.answer`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.models.room import RoomStage, RoomStatus
from controlplane.realtime.messages import Click, Empty, Keypress, MouseMove, Navigate, Scroll
from controlplane.rooms.together import MediaAction


class Outbound(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")
    TYPE: ClassVar[str]
    OMIT_NONE: ClassVar[bool] = False

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=self.OMIT_NONE)

    def event(self) -> tuple[str, dict[str, Any]]:
        """As the bus publishes it: (type, data)."""
        return self.TYPE, self.data()


# ---------------------------------------------------------------- server -> room sockets


class VideoInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    codec: str | None = None


class RoomStatusData(Outbound):
    """The one `room.status` shape. Every part but `status` is optional and absent when it does
    not apply: `stage` and `agent_connected` while a room starts, `video` once it is ready,
    `reason` when it failed."""

    TYPE = "room.status"
    OMIT_NONE = True
    status: RoomStatus
    stage: RoomStage | None = None
    agent_connected: bool | None = None
    reason: str | None = None
    video: dict[str, Any] | None = None


class PresenceJoined(Outbound):
    TYPE = "presence.joined"
    user_id: str
    username: str


class PresenceLeft(Outbound):
    TYPE = "presence.left"
    user_id: str


class ParticipantRemoved(Outbound):
    TYPE = "participant.removed"
    user_id: str
    reason: Literal["left", "kicked"]
    by: str


class HostChanged(Outbound):
    TYPE = "host.changed"
    host_id: str
    previous_host_id: str
    by: str


class RoomWarning(Outbound):
    TYPE = "room.warning"
    code: Literal["max_age"]
    ends_at: str
    seconds_left: int
    detail: str


class RoomEnded(Outbound):
    TYPE = "room.ended"
    reason: str
    by: str | None


class ChatUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    username: str


class ChatMessage(Outbound):
    """A member's message (`kind: "user"`) or a system line the room says on a member's behalf
    (`kind: "system"`: a media command, the queue moving on; `user` is who caused it)."""

    TYPE = "chat.message"
    id: str
    user: ChatUser
    text: str
    created_at: str
    client_id: str | None
    kind: Literal["user", "system"] = "user"


class ChatTypingOut(Outbound):
    TYPE = "chat.typing"
    user_id: str
    typing: bool


class ChatCleared(Outbound):
    TYPE = "chat.cleared"
    by: str


class RemoteChanged(Outbound):
    TYPE = "remote.changed"
    holder_id: str | None
    by: str
    reason: str
    requests: list[str]


class RemoteRequested(Outbound):
    TYPE = "remote.requested"
    user_id: str
    requests: list[str]


class RemoteRequests(Outbound):
    TYPE = "remote.requests"
    requests: list[str]


class BrowserStatus(Outbound):
    TYPE = "browser.status"
    url: str
    title: str
    can_go_back: bool
    can_go_forward: bool
    loading: bool


class MediaStateOut(Outbound):
    """The page's main media, as its agent reported it (`media.state`): `{present: false}`
    alone when the page has none."""

    TYPE = "media.state"
    present: bool
    paused: bool = True
    time: float = 0.0
    duration: float | None = None  # null: live, or not known
    rate: float = 1.0
    muted: bool = False
    ended: bool = False
    title: str = ""

    def data(self) -> dict[str, Any]:
        if not self.present:
            return {"present": False}
        return super().data()


class Reaction(Outbound):
    TYPE = "reaction"
    id: str
    user_id: str
    username: str
    emoji: str


class Pointer(Outbound):
    TYPE = "pointer"
    user_id: str
    username: str
    x: float
    y: float


class QueueEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    url: str
    title: str | None
    added_by: ChatUser
    added_at: str


class QueueChanged(Outbound):
    """The whole queue, first entry next, after every change."""

    TYPE = "queue.changed"
    queue: list[QueueEntryOut]


class RoomSettingsOut(Outbound):
    TYPE = "room.settings"
    anyone_can_pause: bool
    queue_host_only: bool


class VoiceStateOut(Outbound):
    TYPE = "voice.state"
    user_id: str
    muted: bool
    deafened: bool
    speaking: bool


class VoiceLeftOut(Outbound):
    TYPE = "voice.left"
    user_id: str


class RtcOfferOut(Outbound):
    TYPE = "rtc.offer"
    from_: str = Field(alias="from")
    conn: str
    sdp: str


class RtcAnswerOut(Outbound):
    """From a voice peer (with its `conn`) or from the agent (`from: "agent"`, no `conn`)."""

    TYPE = "rtc.answer"
    OMIT_NONE = True
    from_: str = Field(alias="from")
    conn: str | None = None
    sdp: str


class RtcIceOut(Outbound):
    TYPE = "rtc.ice"
    from_: str = Field(alias="from")
    conn: str
    candidate: str | None
    sdpMid: str | None
    sdpMLineIndex: int | None


class Pong(Outbound):
    TYPE = "pong"


class ErrorOut(Outbound):
    """`type` names the message that failed when it was understood; `agent_code` is the agent's
    own code on a relayed `agent_error`."""

    TYPE = "error"
    OMIT_NONE = True
    code: str
    detail: Any
    type: str | None = None
    agent_code: str | None = None


class RoomState(Outbound):
    TYPE = "room.state"
    room: dict[str, Any]
    you: dict[str, Any]
    participants: list[dict[str, Any]]
    remote: dict[str, Any]
    browser: dict[str, Any] | None
    agent_connected: bool
    chat: list[dict[str, Any]]
    ice_servers: list[dict[str, Any]]
    # The last `media.state` (None until the agent reports), the queue, the host's settings.
    media: dict[str, Any] | None
    queue: list[dict[str, Any]]
    settings: dict[str, Any]


# ---------------------------------------------------------------- control plane -> agent


class AuthOk(Outbound):
    TYPE = "auth.ok"
    room_id: str
    holder_id: str | None
    # A warm browser waits for `room.assigned`; one that missed it while reconnecting sees
    # here that it has a room now, and which page to load.
    pooled: bool
    start_url: str | None
    ice_servers: list[dict[str, Any]]
    # The room's present sockets (every replica's): the agent drops the peers of any other.
    conns: list[str]


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
    conns: list[str]


class AgentRemoteChanged(Outbound):
    TYPE = "remote.changed"
    holder_id: str | None


class RoomAssigned(Outbound):
    TYPE = "room.assigned"
    start_url: str | None
    holder_id: str | None


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
    value: float | None = None


class IceServers(Outbound):
    TYPE = "ice_servers"
    ice_servers: list[dict[str, Any]]


class AgentError(Outbound):
    TYPE = "error"
    code: str
    message: str


def _table(*models: type[Outbound]) -> dict[str, type[Outbound]]:
    table = {model.TYPE: model for model in models}
    assert len(table) == len(models), "two models claim one type"
    return table


ROOM_MESSAGES = _table(
    RoomState,
    PresenceJoined,
    PresenceLeft,
    ParticipantRemoved,
    HostChanged,
    RoomStatusData,
    RoomWarning,
    RoomEnded,
    ChatMessage,
    ChatTypingOut,
    ChatCleared,
    RemoteChanged,
    RemoteRequested,
    RemoteRequests,
    BrowserStatus,
    MediaStateOut,
    Reaction,
    Pointer,
    QueueChanged,
    RoomSettingsOut,
    VoiceStateOut,
    VoiceLeftOut,
    RtcOfferOut,
    RtcAnswerOut,
    RtcIceOut,
    Pong,
    ErrorOut,
)

# Holder input a room socket sends, as the agent receives it (same fields, checked once).
_INPUT = (
    AgentBack,
    AgentForward,
    AgentReload,
    AgentMouseMove,
    AgentClick,
    AgentScroll,
    AgentKeypress,
)
FORWARDED_INPUT: dict[str, type[Outbound]] = _table(*_INPUT)

AGENT_MESSAGES = _table(
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
)
