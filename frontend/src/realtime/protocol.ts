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
