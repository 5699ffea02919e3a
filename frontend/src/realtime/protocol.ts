// The room WebSocket's messages as docs/protocol.md defines them ("Room WebSocket"). The message
// types are generated from the wire package (./wire.ts, `npm run gen:wire`); this module names
// them as the app uses them and holds the protocol's constants.
import type {
  BrowserInfo,
  ChatMessage,
  ParticipantInfo,
  RoomPublic,
  RoomStage,
  RoomState,
  RoomStatus,
  ServerMessages,
  VideoInfo,
  VoiceInfo,
} from "./wire";

export type { BrowserInfo as BrowserStatus, ChatMessage, ParticipantInfo, RoomStage, RoomStatus, VideoInfo, VoiceInfo };
export type { ClientMessages, ServerMessages } from "./wire";

export interface Envelope<T = unknown> {
  type: string;
  data: T;
  seq?: number;
  ts?: string;
}

/** A room as `room.state` carries it: the REST API's room, with its status and stage named. */
export type RoomInfo = Omit<RoomPublic, "status" | "stage"> & { status: RoomStatus; stage: RoomStage | null };

export type RoomStateData = Omit<RoomState, "room"> & { room: RoomInfo };

/** A message the server sends, with its `data` typed by its `type`. */
export type ServerMessage = { [K in keyof ServerMessages]: Envelope<ServerMessages[K]> & { type: K } }[keyof ServerMessages];

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
