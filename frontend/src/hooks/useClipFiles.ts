// Bridges the room's clipboard and files part (plain TypeScript on the RoomClient) to React.
import { useSyncExternalStore } from "react";
import type { ClipFilesView } from "../realtime/clipFiles";
import type { RoomClient } from "../realtime/roomClient";

const NONE: ClipFilesView = { copied: null, chooser: null, upload: null, download: null, error: null };
const noSubscribe = () => () => undefined;
const noSnapshot = () => NONE;

export function useClipFiles(client: RoomClient | null): ClipFilesView {
  return useSyncExternalStore(client?.clipFiles.subscribe ?? noSubscribe, client?.clipFiles.snapshot ?? noSnapshot);
}
