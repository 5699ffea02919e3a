// The room WebSocket's messages as docs/protocol.md defines them ("Room WebSocket"). The message
// types are generated from the wire package (./wire.ts, `npm run gen:wire`); this module names
// them as the app uses them and holds the protocol's constants.
import type {
  BrowserInfo,
  ChatMessage,
  MediaCmd,
  MediaStateOut,
  ParticipantInfo,
  Pointer,
  QueueEntryOut,
  Reaction,
  RoomPublic,
  RoomSettingsInfo,
  RoomStage,
  RoomState,
  RoomStatus,
  ServerMessages,
  TabInfo,
  TabsInfo,
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

export type RoomStateData = Omit<RoomState, "room" | "media"> & { room: RoomInfo; media: MediaState | null };

/** A message the server sends, with its `data` typed by its `type`. */
export type ServerMessage = { [K in keyof ServerMessages]: Envelope<ServerMessages[K]> & { type: K } }[keyof ServerMessages];

/** The room browser's main media element as the agent reports it (`media.state`), narrowed:
 * `{present: false}` alone when the page has none, else every field (`duration` null = live or
 * unknown). */
export type MediaState =
  | { present: false }
  | (Required<Omit<MediaStateOut, "present" | "duration">> & { present: true; duration: number | null });

export type MediaAction = MediaCmd["action"];
export type QueueEntry = QueueEntryOut;
export type RoomSettings = RoomSettingsInfo;
export type PointerMark = Pointer;
export type { Reaction };
/** The room browser's tabs (`tabs.state`, `room.state`'s `tabs`): strip order, the one on screen, the cap. */
export type TabsState = TabsInfo;
export type { TabInfo };

export const DEFAULT_SETTINGS: RoomSettings = { anyone_can_pause: true, queue_host_only: false, block_ads: true, keep_profile: false, profile_others_drive: false };

/** The five reactions the server accepts (`reaction.send`). */
export const REACTION_EMOJI = ["👍", "😂", "😮", "❤️", "👏"] as const;
export type ReactionEmoji = (typeof REACTION_EMOJI)[number];

/** Messages addressed to one socket or user: they carry no broadcast number of their own. */
export const DIRECT_TYPES: ReadonlySet<string> = new Set([
  "room.state",
  "error",
  "pong",
  "rtc.offer",
  "rtc.answer",
  "rtc.ice",
  // clipboard and files: to the holder alone
  "clipboard.copied",
  "file.chooser",
  "file.status",
  "download.refused",
]);

/** Close codes after which reconnecting cannot help (docs/protocol.md, "Connecting"). */
export const FINAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  4403: "You are not a participant of this room, or you were removed from it.",
  4404: "There is no room with that code.",
  4410: "This room has ended.",
  4000: "You left this room.",
};

export const CLOSE_UNAUTHORIZED = 4401;

/** The server process is stopping (a rolling upgrade): reconnect at once, to another one. Not an
 * error (docs/protocol.md, "Connecting"). */
export const CLOSE_SERVICE_RESTART = 1012;
