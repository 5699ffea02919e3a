// The room as the page shows it, built from room-socket messages by one pure function.
import type {
  BrowserStatus,
  ChatMessage,
  Envelope,
  MediaState,
  ParticipantInfo,
  QueueEntry,
  RoomInfo,
  RoomSettings,
  RoomStateData,
  TabsState,
  VideoInfo,
  VoiceInfo,
} from "../realtime/protocol";
import { DEFAULT_SETTINGS } from "../realtime/protocol";

export interface Notice {
  id: number;
  kind: "joined" | "left" | "removed" | "host" | "cleared";
  text: string;
  at: string;
}

export type TimelineItem = { kind: "chat"; msg: ChatMessage; pending?: boolean } | { kind: "notice"; notice: Notice };

export interface RoomView {
  room: RoomInfo | null;
  you: RoomStateData["you"] | null;
  participants: ParticipantInfo[];
  holderId: string | null;
  requests: string[];
  browser: BrowserStatus | null;
  agentConnected: boolean;
  video: VideoInfo | null;
  iceServers: RTCIceServer[];
  timeline: TimelineItem[];
  /** The snapshot's chat was cut at its limit: older messages can be fetched over REST. */
  olderHistory: boolean;
  typing: Record<string, number>;
  warning: { code: string; detail: string; ends_at?: string } | null;
  ended: { reason: string; by: string | null } | null;
  lastError: { code: string; detail: string; type: string | null } | null;
  noticeSeq: number;
  /** The room browser's main media (null: none, or nothing reported yet). */
  media: Extract<MediaState, { present: true }> | null;
  /** When (Date.now()) `media` arrived: the page advances its position from there. */
  mediaAt: number;
  queue: QueueEntry[];
  settings: RoomSettings;
  /** The room browser's tabs (null until its agent reported them). */
  tabs: TabsState | null;
}

export const emptyRoom: RoomView = {
  room: null,
  you: null,
  participants: [],
  holderId: null,
  requests: [],
  browser: null,
  agentConnected: false,
  video: null,
  iceServers: [],
  timeline: [],
  olderHistory: false,
  typing: {},
  warning: null,
  ended: null,
  lastError: null,
  noticeSeq: 0,
  media: null,
  mediaAt: 0,
  queue: [],
  settings: DEFAULT_SETTINGS,
  tabs: null,
};

function presentMedia(m: MediaState | null | undefined): RoomView["media"] {
  return m && m.present ? m : null;
}

/** How long a `chat.typing true` is believed without a refresh (the server expires it at 6 s). */
export const TYPING_TTL_MS = 6_500;
/** How many recent messages `room.state` carries (ROOM_RECENT_CHAT's default). */
export const RECENT_CHAT = 50;

function nameOf(view: Pick<RoomView, "participants">, userId: string | null | undefined): string {
  if (!userId) return "Someone";
  return view.participants.find((p) => p.user_id === userId)?.username ?? "Someone";
}

function omit<T>(record: Record<string, T>, key: string): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
}

function notice(view: RoomView, kind: Notice["kind"], text: string, at: string | undefined): RoomView {
  const seq = view.noticeSeq + 1;
  return {
    ...view,
    noticeSeq: seq,
    timeline: [...view.timeline, { kind: "notice", notice: { id: seq, kind, text, at: at ?? new Date().toISOString() } }],
  };
}

function withParticipant(view: RoomView, userId: string, patch: (p: ParticipantInfo) => ParticipantInfo): RoomView {
  return { ...view, participants: view.participants.map((p) => (p.user_id === userId ? patch(p) : p)) };
}

/** Adds a confirmed chat message: replaces our own pending copy (same client_id) or appends. */
function addChat(view: RoomView, msg: ChatMessage): RoomView {
  const timeline = view.timeline.filter(
    (item) => !(item.kind === "chat" && (item.msg.id === msg.id || (item.pending && msg.client_id && item.msg.client_id === msg.client_id))),
  );
  // A system line tells what the user did; it is not them speaking, so they may still be typing.
  const typing = msg.kind === "system" ? view.typing : omit(view.typing, msg.user.id);
  return { ...view, typing, timeline: [...timeline, { kind: "chat", msg }] };
}

/** Our own message shown at once, marked pending until the server echoes its client_id. */
export function addPendingChat(view: RoomView, msg: ChatMessage): RoomView {
  return { ...view, timeline: [...view.timeline, { kind: "chat", msg, pending: true }] };
}

/** Older messages from the REST history, put before what is shown (deduplicated by id). */
export function prependHistory(view: RoomView, older: ChatMessage[]): RoomView {
  const known = new Set(view.timeline.flatMap((i) => (i.kind === "chat" ? [i.msg.id] : [])));
  const fresh = older.filter((m) => !known.has(m.id)).map((msg): TimelineItem => ({ kind: "chat", msg }));
  return { ...view, timeline: [...fresh, ...view.timeline] };
}

export function reduce(view: RoomView, msg: Envelope, now: number = Date.now()): RoomView {
  const d = msg.data as Record<string, unknown>;
  switch (msg.type) {
    case "room.state": {
      const s = msg.data as RoomStateData;
      // Keep notices and pending messages across a reconnect; the chat itself comes afresh.
      // A pending message whose echo was missed while away is in the snapshot already (same client_id).
      const echoed = new Set(s.chat.flatMap((m) => (m.client_id ? [m.client_id] : [])));
      const keep = view.timeline.filter((i) => i.kind === "notice" || (i.pending && !(i.msg.client_id && echoed.has(i.msg.client_id))));
      const chat = s.chat.map((m): TimelineItem => ({ kind: "chat", msg: m }));
      const merged = [...chat, ...keep].sort((a, b) => at(a).localeCompare(at(b)));
      return {
        ...view,
        room: s.room,
        you: s.you,
        participants: s.participants,
        holderId: s.remote.holder_id,
        requests: s.remote.requests,
        browser: s.browser,
        agentConnected: s.agent_connected,
        iceServers: s.ice_servers,
        timeline: merged,
        olderHistory: s.chat.length >= RECENT_CHAT,
        typing: {},
        ended: s.room.status === "ended" ? { reason: s.room.status_reason ?? "The room has ended", by: null } : view.ended,
        lastError: null,
        media: presentMedia(s.media),
        mediaAt: now,
        queue: s.queue ?? [],
        settings: { ...DEFAULT_SETTINGS, ...s.settings },
        tabs: s.tabs ?? null,
      };
    }
    case "presence.joined": {
      const userId = String(d.user_id);
      const username = String(d.username ?? "someone");
      const exists = view.participants.some((p) => p.user_id === userId);
      const next = exists
        ? withParticipant(view, userId, (p) => ({ ...p, online: true }))
        : { ...view, participants: [...view.participants, { user_id: userId, username, role: "guest" as const, online: true, voice: null }] };
      return notice(next, "joined", `${username} joined`, msg.ts);
    }
    case "presence.left": {
      const userId = String(d.user_id);
      const next = withParticipant(view, userId, (p) => ({ ...p, online: false, voice: null }));
      return notice({ ...next, typing: omit(next.typing, userId) }, "left", `${nameOf(view, userId)} left`, msg.ts);
    }
    case "participant.removed": {
      const userId = String(d.user_id);
      const name = nameOf(view, userId);
      const next = { ...view, participants: view.participants.filter((p) => p.user_id !== userId) };
      return notice(next, "removed", d.reason === "kicked" ? `${name} was removed by the host` : `${name} left the room`, msg.ts);
    }
    case "host.changed": {
      const hostId = String(d.host_id);
      const next = {
        ...view,
        room: view.room ? { ...view.room, host_id: hostId } : view.room,
        you: view.you ? { ...view.you, role: view.you.user_id === hostId ? ("host" as const) : ("guest" as const) } : view.you,
        participants: view.participants.map((p) => ({ ...p, role: p.user_id === hostId ? ("host" as const) : ("guest" as const) })),
      };
      return notice(next, "host", `${nameOf(view, hostId)} is now the host`, msg.ts);
    }
    case "room.status": {
      if (!view.room) return view;
      const status = (d.status as RoomInfo["status"] | undefined) ?? view.room.status;
      const stage = (d.stage as RoomInfo["stage"] | undefined) ?? view.room.stage;
      const reason = typeof d.reason === "string" ? d.reason : view.room.status_reason;
      return {
        ...view,
        room: { ...view.room, status, stage, status_reason: reason },
        agentConnected: typeof d.agent_connected === "boolean" ? d.agent_connected : view.agentConnected,
        video: (d.video as VideoInfo | undefined) ?? view.video,
      };
    }
    case "room.warning":
      return { ...view, warning: { code: String(d.code), detail: String(d.detail), ends_at: d.ends_at as string | undefined } };
    case "room.ended":
      return {
        ...view,
        room: view.room ? { ...view.room, status: "ended" } : view.room,
        ended: { reason: String(d.reason ?? "The room has ended"), by: (d.by as string | null) ?? null },
      };
    case "chat.message":
      return addChat(view, msg.data as ChatMessage);
    case "chat.typing": {
      const userId = String(d.user_id);
      return { ...view, typing: d.typing === true ? { ...view.typing, [userId]: now + TYPING_TTL_MS } : omit(view.typing, userId) };
    }
    case "chat.cleared":
      return notice(
        { ...view, timeline: view.timeline.filter((i) => i.kind === "notice"), olderHistory: false },
        "cleared",
        `${nameOf(view, d.by as string)} cleared the chat history`,
        msg.ts,
      );
    case "remote.changed":
      return { ...view, holderId: (d.holder_id as string | null) ?? null, requests: (d.requests as string[] | undefined) ?? [] };
    case "remote.requested":
    case "remote.requests":
      return { ...view, requests: (d.requests as string[] | undefined) ?? view.requests };
    case "browser.status":
      // A page loaded: an earlier refused navigation is no longer news.
      return { ...view, browser: msg.data as BrowserStatus, lastError: view.lastError?.type === "browser.navigate" ? null : view.lastError };
    case "voice.state": {
      const { user_id, muted, deafened, speaking } = d as unknown as VoiceInfo & { user_id: string };
      return withParticipant(view, user_id, (p) => ({ ...p, voice: { muted, deafened, speaking } }));
    }
    case "voice.left":
      return withParticipant(view, String(d.user_id), (p) => ({ ...p, voice: null }));
    case "media.state":
      return { ...view, media: presentMedia(msg.data as MediaState), mediaAt: now };
    case "queue.changed":
      return { ...view, queue: (d.queue as QueueEntry[] | undefined) ?? [] };
    case "tabs.state":
      return { ...view, tabs: msg.data as TabsState };
    case "room.settings":
      return { ...view, settings: { ...view.settings, ...(msg.data as Partial<RoomSettings>) } };
    case "error":
      return { ...view, lastError: { code: String(d.code), detail: String(d.detail ?? ""), type: (d.type as string | null) ?? null } };
    default:
      return view;
  }
}

function at(item: TimelineItem): string {
  return item.kind === "chat" ? item.msg.created_at : item.notice.at;
}

/** Who is typing now (not you), by name. */
export function typingNames(view: Pick<RoomView, "typing" | "you" | "participants">, now: number = Date.now()): string[] {
  return Object.entries(view.typing)
    .filter(([id, until]) => until > now && id !== view.you?.user_id)
    .map(([id]) => nameOf(view, id));
}
