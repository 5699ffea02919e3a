// Bridges the viewer's quality (its choice, and the agent's status for it) to React: the room
// store holds both (RoomClient reports them); choosing goes to the RoomClient, which saves the
// choice and tells the agent (0x0B).
import { useCallback } from "react";
import { qualityWords, type QualityCap } from "../realtime/quality";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";

export function useQuality(client: RoomClient | null) {
  const cap = useRoomStore((s) => s.qualityCap);
  const status = useRoomStore((s) => s.quality);
  const choose = useCallback((next: QualityCap) => client?.setQualityCap(next), [client]);
  return { cap, status, words: qualityWords(status), choose };
}
