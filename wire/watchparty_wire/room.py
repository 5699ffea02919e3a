"""The room socket, `/api/rooms/{code}/ws` (docs/protocol.md, "Room WebSocket"): what a member's
browser sends (`CLIENT_MESSAGES`, "Client → server") and what it receives (`ROOM_MESSAGES`,
"Server → client"), and the room's status and start stages they carry.

`tests/unit/test_protocol_doc.py` holds both tables against the documentation, and the web app's
`frontend/src/realtime/wire.ts` is generated from them (`typescript.py`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from watchparty_wire.envelope import Inbound, Outbound, table


class RoomStatus(StrEnum):
    creating = "creating"
    starting = "starting"
    ready = "ready"
    idle = "idle"
    ending = "ending"
    ended = "ended"
    failed = "failed"


class RoomStage(StrEnum):
    """Start-up progress while a room is `starting` (docs/protocol.md, "Start stages")."""

    scheduling = "scheduling"  # the runtime was asked for a browser (a pod waits for a node)
    booting = "booting"  # Xvfb, PulseAudio and Chromium are starting
    browser_ready = "browser_ready"  # Chromium shows its first page
    ready = "ready"  # the stream is up


# ---------------------------------------------------------------- client -> server

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Delta = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
Modifier = Literal["ctrl", "shift", "alt", "meta"]
Sdp = Annotated[str, Field(min_length=1, max_length=60_000)]
# "agent", or the id of a user in the room
Peer = Annotated[str, Field(min_length=1, max_length=64)]


class Empty(Inbound):
    pass


class Auth(Inbound):
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class ChatSend(Inbound):
    text: Annotated[str, Field(max_length=20_000)]
    client_id: Annotated[str | None, Field(max_length=64)] = None


class ChatTyping(Inbound):
    typing: bool


class RemoteTarget(Inbound):
    user_id: uuid.UUID


class Navigate(Inbound):
    url: Annotated[str, Field(min_length=1, max_length=2048)]


class MouseMove(Inbound):
    x: Fraction
    y: Fraction


class Click(Inbound):
    x: Fraction
    y: Fraction
    button: Literal["left", "middle", "right"] = "left"


class Scroll(Inbound):
    x: Fraction
    y: Fraction
    dx: Delta
    dy: Delta


class Keypress(Inbound):
    key: Annotated[str, Field(min_length=1, max_length=32)]
    code: Annotated[str, Field(max_length=32)] = ""
    modifiers: Annotated[list[Modifier], Field(max_length=4)] = []


class RtcOffer(Inbound):
    to: Peer
    sdp: Sdp
    conn: Annotated[str | None, Field(max_length=64)] = None


class RtcAnswer(RtcOffer):
    pass


class RtcIce(Inbound):
    to: Peer
    candidate: Annotated[str | None, Field(max_length=2048)] = None
    sdpMid: Annotated[str | None, Field(max_length=64)] = None
    sdpMLineIndex: Annotated[int | None, Field(ge=0, le=64)] = None
    conn: Annotated[str | None, Field(max_length=64)] = None


class VoiceState(Inbound):
    muted: bool = False
    deafened: bool = False
    speaking: bool = False


MediaAction = Literal["play", "pause", "seek", "seek_by", "rate"]
# A `rate` command's playback rate, inclusive (the control plane's rules and the agent agree).
RATE_MIN, RATE_MAX = 0.25, 4.0


class MediaCmd(Inbound):
    """A media command (docs/protocol.md): `seek` to absolute seconds, `seek_by` relative
    seconds, `rate` a playback rate; `play` and `pause` take no value."""

    action: MediaAction
    value: Annotated[float | None, Field(ge=-10_000_000, le=10_000_000, allow_inf_nan=False)] = None

    @model_validator(mode="after")
    def _value_fits(self) -> MediaCmd:
        if self.action in ("play", "pause"):
            return self
        if self.value is None:
            raise ValueError(f"`{self.action}` needs a `value`")
        if self.action == "seek" and self.value < 0:
            raise ValueError("`seek` takes seconds from the start (0 or more)")
        if self.action == "rate" and not RATE_MIN <= self.value <= RATE_MAX:
            raise ValueError(f"`rate` is between {RATE_MIN} and {RATE_MAX}")
        return self


class ReactionSend(Inbound):
    # Checked against the five reactions by the handler (`bad_request` otherwise).
    emoji: Annotated[str, Field(max_length=16)]


class PointerShow(Inbound):
    x: Fraction
    y: Fraction


class QueueRemove(Inbound):
    id: uuid.UUID


class QueueMove(Inbound):
    id: uuid.UUID
    index: Annotated[int, Field(ge=0, le=10_000)]


CLIENT_MESSAGES: dict[str, type[Inbound]] = {
    "auth": Auth,  # the first frame; again later, to extend the socket with a fresh token
    "ping": Empty,
    "chat.send": ChatSend,
    "chat.typing": ChatTyping,
    "remote.request": Empty,
    "remote.grant": RemoteTarget,
    "remote.pass": RemoteTarget,
    "remote.take": Empty,
    "remote.revoke": Empty,
    "remote.release": Empty,
    "browser.navigate": Navigate,
    "browser.back": Empty,
    "browser.forward": Empty,
    "browser.reload": Empty,
    "browser.mouse_move": MouseMove,
    "browser.click": Click,
    "browser.scroll": Scroll,
    "browser.keypress": Keypress,
    "rtc.offer": RtcOffer,
    "rtc.answer": RtcAnswer,
    "rtc.ice": RtcIce,
    "voice.state": VoiceState,
    "voice.leave": Empty,
    "media.cmd": MediaCmd,
    "reaction.send": ReactionSend,
    "pointer.show": PointerShow,
    "queue.add": Navigate,
    "queue.remove": QueueRemove,
    "queue.move": QueueMove,
}


# ---------------------------------------------------------------- server -> client


class _Part(BaseModel):
    """A part of a message the server builds from stored state (presence, Redis): what it
    stored is sent as it is (`extra="allow"`), the fields named here are its documented shape."""

    model_config = ConfigDict(frozen=True, extra="allow")


class RoomPublic(BaseModel):
    """A room as the REST API returns it and as `room.state` carries it (the control plane's
    `rooms/schemas.py` builds it from the database)."""

    id: uuid.UUID
    code: str
    title: str
    host_id: uuid.UUID
    status: str
    # While `starting`: scheduling, booting or browser_ready; `ready` once the browser streams.
    stage: str | None
    status_reason: str | None
    created_at: datetime
    ended_at: datetime | None
    max_participants: int
    start_url: str | None
    join_url: str


class VoiceInfo(_Part):
    muted: bool
    deafened: bool
    speaking: bool


Role = Literal["host", "guest"]


class ParticipantInfo(_Part):
    user_id: str
    username: str
    role: Role
    online: bool
    voice: VoiceInfo | None


class You(_Part):
    user_id: str
    conn_id: str
    role: Role


class RemoteInfo(_Part):
    holder_id: str | None
    requests: list[str]


class BrowserInfo(_Part):
    url: str
    title: str
    can_go_back: bool
    can_go_forward: bool
    loading: bool


class IceServer(_Part):
    """As `RTCIceServer` takes it: `username` and `credential` only on TURN entries."""

    urls: list[str]
    # Absent (never null) on the wire: `RoomState.data` leaves out what was not set.
    username: Annotated[str | None, WithJsonSchema({"type": "string"})] = None
    credential: Annotated[str | None, WithJsonSchema({"type": "string"})] = None


class ChatUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    username: str


class ChatMessage(Outbound):
    TYPE = "chat.message"
    id: str
    user: ChatUser
    text: str
    created_at: str
    client_id: str | None
    # A member's message ("user") or a system line the room says on a member's behalf
    # ("system": a media command, the queue moving on; `user` is who caused it). The server
    # always sends it; optional in the web app's types, whose pending messages are a member's.
    kind: Literal["user", "system"] = "user"


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


class QueueEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    url: str
    title: str | None
    added_by: ChatUser
    added_at: str


class RoomSettingsInfo(_Part):
    """The host's settings (`room.state`'s `settings`, `room.settings`)."""

    anyone_can_pause: bool
    queue_host_only: bool
    # The room's browser blocks ad and tracker requests and hides ad slots (issue 22).
    block_ads: bool
    # The host's browser profile is loaded and saved (chosen at creation), and whether members
    # other than the host may then hold the remote (issue 22).
    keep_profile: bool = False
    profile_others_drive: bool = False


class RoomSettingsOut(Outbound):
    TYPE = "room.settings"
    anyone_can_pause: bool
    queue_host_only: bool
    block_ads: bool
    keep_profile: bool = False
    profile_others_drive: bool = False


class TabInfo(_Part):
    """One tab of the room's browser (`tabs.state`): `id` is opaque, `title` and `url` are the
    page's, cut to 300 and 2048 characters."""

    id: str
    title: str
    url: str


class TabsInfo(_Part):
    """The room browser's tabs, in strip order (`room.state`'s `tabs`): `active` is the one on
    screen, `max` how many the room's browser holds at most."""

    tabs: list[TabInfo]
    active: str | None
    max: int


class RoomState(Outbound):
    """Everything a socket needs to draw the room, sent first on every connect."""

    TYPE = "room.state"
    room: RoomPublic
    you: You
    participants: list[ParticipantInfo]
    remote: RemoteInfo
    browser: BrowserInfo | None
    agent_connected: bool
    chat: list[ChatMessage]
    ice_servers: list[IceServer]
    # The last `media.state` (None until the agent reports), the queue, the host's settings.
    media: MediaStateOut | None
    queue: list[QueueEntryOut]
    settings: RoomSettingsInfo
    # The room browser's tabs (issue 22): None until the agent reported them.
    tabs: TabsInfo | None = None

    def data(self) -> dict[str, Any]:
        # Stored parts go out as they were stored: an ICE server without TURN credentials has
        # no `username`/`credential` keys (not nulls).
        out = super().data()
        out["ice_servers"] = [
            s.model_dump(mode="json", exclude_unset=True) for s in self.ice_servers
        ]
        # As the `media.state` message: `{present: false}` alone when the page has none.
        out["media"] = self.media.data() if self.media is not None else None
        return out


class VideoInfo(_Part):
    """The stream's parameters, as the agent reported them (`ready`)."""

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
    video: VideoInfo | None = None


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


class QueueChanged(Outbound):
    """The whole queue, first entry next, after every change."""

    TYPE = "queue.changed"
    queue: list[QueueEntryOut]


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


ROOM_MESSAGES: dict[str, type[Outbound]] = table(
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


# ---------------------------------------------------------------- tabs (issue 22)

TabId = Annotated[str, Field(min_length=1, max_length=64)]


class TabsOpen(Inbound):
    """Open a tab (the holder): on `url` (the URL policy as `browser.navigate`), else blank."""

    url: Annotated[str | None, Field(min_length=1, max_length=2048)] = None


class TabRef(Inbound):
    """A tab of the room's browser, by its `id` in `tabs.state`."""

    id: TabId


class TabsStateOut(Outbound):
    """The room browser's tabs after every change (opened, switched, closed, a tab's title or
    address changed), as its agent reported them."""

    TYPE = "tabs.state"
    tabs: list[TabInfo]
    active: str | None
    max: int


CLIENT_MESSAGES.update({"tabs.open": TabsOpen, "tabs.switch": TabRef, "tabs.close": TabRef})
ROOM_MESSAGES.update(table(TabsStateOut))


# ---------------------------------------------------------------- clipboard and files (issue 22)
# The holder pastes text into the room's page and gets back what they copy there; a file chooser
# the page opens is answered with the holder's files, sent in chunks over this socket
# (docs/protocol.md, "Clipboard and files").

# The most text one paste or copy can carry (UTF-8 bytes) whatever ROOM_CLIPBOARD_MAX_BYTES says:
# escaped as JSON (at most 3 bytes per byte) it still fits a 64 KiB frame.
CLIPBOARD_HARD_MAX_BYTES = 16_384
# Decoded bytes one `file.chunk` carries at most (its base64 stays under a 64 KiB frame).
FILE_CHUNK_BYTES = 40_960
FILE_CHUNK_B64_CHARS = (FILE_CHUNK_BYTES + 2) // 3 * 4
# Files one chooser takes at most (an `<input type=file multiple>`).
FILES_MAX = 10
FileId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ClipboardPaste(Inbound):
    # Checked against ROOM_CLIPBOARD_MAX_BYTES (UTF-8) by the handler (`clipboard_too_large`).
    text: Annotated[str, Field(min_length=1, max_length=CLIPBOARD_HARD_MAX_BYTES)]


class FileInfo(Inbound):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0, le=2**40)]
    type: Annotated[str, Field(max_length=255)] = ""


class FileUpload(Inbound):
    """The files the holder picked for the chooser `id` (their bytes follow as `file.chunk`)."""

    id: FileId
    files: Annotated[list[FileInfo], Field(min_length=1, max_length=FILES_MAX)]


class FileChunk(Inbound):
    """`b64` (base64) is the bytes of file `index` from `offset` on; chunks go in order."""

    id: FileId
    index: Annotated[int, Field(ge=0, lt=FILES_MAX)]
    offset: Annotated[int, Field(ge=0, le=2**40)]
    b64: Annotated[
        str,
        Field(min_length=4, max_length=FILE_CHUNK_B64_CHARS, pattern=r"^[A-Za-z0-9+/]+={0,2}$"),
    ]


class FileCancel(Inbound):
    id: FileId


class ClipboardCopiedOut(Outbound):
    """Text the holder copied in the room's page: to the holder only. `size` is its UTF-8
    length; past `max_bytes` (ROOM_CLIPBOARD_MAX_BYTES) `text` is empty: too large to send."""

    TYPE = "clipboard.copied"
    text: str
    size: int
    max_bytes: int


class FileChooserOut(Outbound):
    """The room's page opened a file chooser: to the holder only. `accept` is the input's
    `accept` attribute ("" for any file), `max_bytes` the most all files together may weigh."""

    TYPE = "file.chooser"
    id: str
    multiple: bool
    accept: str
    max_bytes: int


FileState = Literal["progress", "done", "failed", "cancelled"]


class FileStatusOut(Outbound):
    """How the holder's files for chooser `id` are doing: `received` bytes so far (all files);
    `detail` says why when `failed`."""

    TYPE = "file.status"
    id: str
    state: FileState
    received: int
    detail: str


class DownloadRefusedOut(Outbound):
    """The room's page started a download: refused by policy, said to the holder."""

    TYPE = "download.refused"
    filename: str
    url: str


CLIENT_MESSAGES.update(
    {
        "clipboard.paste": ClipboardPaste,
        "file.upload": FileUpload,
        "file.chunk": FileChunk,
        "file.cancel": FileCancel,
    }
)
ROOM_MESSAGES.update(table(ClipboardCopiedOut, FileChooserOut, FileStatusOut, DownloadRefusedOut))
