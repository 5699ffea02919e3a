// The room page's state: a small Zustand store over the pure reducer, plus what is local to
// this tab (connection states, stream stats, your voice settings).
import { create } from "zustand";
import type { Envelope } from "../realtime/protocol";
import type { QualityCap, QualityStatus } from "../realtime/quality";
import type { SocketStatus } from "../realtime/roomSocket";
import type { StreamStats } from "../realtime/streamPeer";
import { emptyRoom, reduce, type RoomView } from "./roomReducer";

export type PeerStatus = "idle" | "connecting" | "connected" | "reconnecting" | "failed";

export interface RoomLocal {
  socket: SocketStatus;
  peer: PeerStatus;
  stats: StreamStats | null;
  /** The agent's quality status for this viewer (its rung, what limits it). */
  quality: QualityStatus | null;
  /** This viewer's quality choice (0 = Auto). */
  qualityCap: QualityCap;
  /** Why the room page cannot go on (kicked, ended, no such room, signed out). */
  fatal: string | null;
  /** Your voice connections, by user id. */
  voicePeers: Record<string, RTCPeerConnectionState>;
}

export interface RoomStore extends RoomView, RoomLocal {
  apply: (msg: Envelope) => void;
  update: (fn: (view: RoomView) => RoomView) => void;
  setLocal: (patch: Partial<RoomLocal>) => void;
  reset: () => void;
}

const initialLocal: RoomLocal = { socket: "connecting", peer: "idle", stats: null, quality: null, qualityCap: 0, fatal: null, voicePeers: {} };

export const useRoomStore = create<RoomStore>((set) => ({
  ...emptyRoom,
  ...initialLocal,
  apply: (msg) => set((s) => reduce(s, msg)),
  update: (fn) => set((s) => fn(s)),
  setLocal: (patch) => set(patch),
  reset: () => set({ ...emptyRoom, ...initialLocal }),
}));
