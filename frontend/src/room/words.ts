// Room states in words. Pure.
import type { RoomStage, RoomStatus } from "../realtime/protocol";

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

export function statusWords(status: RoomStatus | undefined, stage: RoomStage | null | undefined): string {
  switch (status) {
    case "creating":
    case "starting":
      return `Starting · ${STAGES[stageIndex(stage)]?.label.toLowerCase() ?? "starting"}`;
    case "ready":
      return "Live";
    case "idle":
      return "Live · idle";
    case "ending":
      return "Ending";
    case "ended":
      return "Ended";
    case "failed":
      return "Failed";
    default:
      return "Connecting";
  }
}

export function timeOf(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Adds https:// to a bare host ("example.com/x"); the server checks the URL policy. */
export function normaliseAddress(text: string): string {
  const t = text.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(t)) return t;
  return `https://${t}`;
}
