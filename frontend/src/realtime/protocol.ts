// The room WebSocket's messages as docs/protocol.md defines them ("Room WebSocket").

export interface Envelope<T = unknown> {
  type: string;
  data: T;
  seq?: number;
  ts?: string;
}

export type RoomStatus = "creating" | "starting" | "ready" | "idle" | "ending" | "ended" | "failed";
export type RoomStage = "scheduling" | "booting" | "browser_ready" | "ready";

export interface RoomInfo {
  id: string;
  code: string;
  title: string;
  host_id: string;
  status: RoomStatus;
  stage: RoomStage | null;
  status_reason: string | null;
  created_at: string;
  ended_at: string | null;
  max_participants: number;
  start_url: string | null;
  join_url: string;
}

export interface VoiceInfo {
  muted: boolean;
  deafened: boolean;
  speaking: boolean;
}

export interface ParticipantInfo {
  user_id: string;
  username: string;
  role: "host" | "guest";
  online: boolean;
  voice: VoiceInfo | null;
}

export interface BrowserStatus {
  url: string;
  title: string;
  can_go_back: boolean;
  can_go_forward: boolean;
  loading: boolean;
}

export interface ChatMessage {
  id: string;
  user: { id: string; username: string };
  text: string;
  created_at: string;
  client_id?: string | null;
  /** "system": a line the room wrote about `user`'s action ("ana paused at 12:31"), not their words. */
  kind?: "user" | "system";
}

/** The room browser's main media element as the agent reports it (`media.state`). */
export type MediaState =
  | { present: false }
  | {
      present: true;
      paused: boolean;
      /** Seconds, when the agent read it. */
      time: number;
      /** Seconds; null = live or unknown. */
      duration: number | null;
      rate: number;
      muted: boolean;
      ended: boolean;
      title: string;
    };

export type MediaAction = "play" | "pause" | "seek" | "seek_by" | "rate";

export interface QueueEntry {
  id: string;
  url: string;
  title?: string | null;
  added_by: { id: string; username: string };
  added_at: string;
}

export interface RoomSettings {
  anyone_can_pause: boolean;
  queue_host_only: boolean;
}

export const DEFAULT_SETTINGS: RoomSettings = { anyone_can_pause: true, queue_host_only: false };

/** The five reactions the server accepts (`reaction.send`). */
export const REACTION_EMOJI = ["👍", "😂", "😮", "❤️", "👏"] as const;
export type ReactionEmoji = (typeof REACTION_EMOJI)[number];

export interface Reaction {
  id: string;
  user_id: string;
  username: string;
  emoji: string;
}

export interface PointerMark {
  user_id: string;
  username: string;
  x: number;
  y: number;
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  codec: string;
}

export interface RoomStateData {
  room: RoomInfo;
  you: { user_id: string; conn_id: string; role: "host" | "guest" };
  participants: ParticipantInfo[];
  remote: { holder_id: string | null; requests: string[] };
  browser: BrowserStatus | null;
  agent_connected: boolean;
  chat: ChatMessage[];
  ice_servers: RTCIceServer[];
  /** The last `media.state` (null: none reported yet). Absent from servers before issue 21. */
  media?: MediaState | null;
  queue?: QueueEntry[];
  settings?: RoomSettings;
}

/** Messages addressed to one socket or user: they carry no broadcast number of their own. */
export const DIRECT_TYPES: ReadonlySet<string> = new Set(["room.state", "error", "pong", "rtc.offer", "rtc.answer", "rtc.ice"]);

/** Close codes after which reconnecting cannot help (docs/protocol.md, "Connecting"). */
export const FINAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  4403: "You are not a participant of this room, or you were removed from it.",
  4404: "There is no room with that code.",
  4410: "This room has ended.",
  4000: "You left this room.",
};

export const CLOSE_UNAUTHORIZED = 4401;
