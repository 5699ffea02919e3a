// The start-up stages in words, for the room page's progress list. Pure.
import type { RoomStage } from "../realtime/protocol";

export const STAGES: { stage: RoomStage; label: string }[] = [
  { stage: "scheduling", label: "Finding a place for the browser" },
  { stage: "booting", label: "Starting the browser" },
  { stage: "browser_ready", label: "Loading the first page" },
  { stage: "ready", label: "Live" },
];

export function stageIndex(stage: RoomStage | null | undefined): number {
  const i = STAGES.findIndex((s) => s.stage === stage);
  return i < 0 ? 0 : i;
}
