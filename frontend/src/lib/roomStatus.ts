// Room status and start-up stage in words (docs/protocol.md, "Start stages"), and the dashboard's
// order: live rooms first, then past ones.

export type Tone = "neutral" | "good" | "warn" | "bad" | "accent";

export interface RoomLike {
  status: string;
  stage: string | null;
  status_reason: string | null;
  created_at: string;
  ended_at: string | null;
}

export const LIVE_STATUSES = ["creating", "starting", "ready", "idle"] as const;

export function isLive(status: string): boolean {
  return (LIVE_STATUSES as readonly string[]).includes(status);
}

/** Still starting up: its browser is not streaming yet. */
export function isStarting(room: Pick<RoomLike, "status">): boolean {
  return room.status === "creating" || room.status === "starting";
}

const STAGE_WORDS: Record<string, string> = {
  scheduling: "scheduling",
  booting: "booting",
  browser_ready: "loading the page",
  ready: "almost ready",
};

/** The badge: "Starting · booting", "Live", "Idle", "Ended", "Failed". */
export function statusWords(room: Pick<RoomLike, "status" | "stage">): { label: string; tone: Tone } {
  switch (room.status) {
    case "creating":
      return { label: "Starting · scheduling", tone: "warn" };
    case "starting": {
      const stage = room.stage === null ? undefined : (STAGE_WORDS[room.stage] ?? room.stage.replace(/_/g, " "));
      return { label: stage === undefined ? "Starting" : `Starting · ${stage}`, tone: "warn" };
    }
    case "ready":
      return { label: "Live", tone: "good" };
    case "idle":
      return { label: "Idle", tone: "neutral" };
    case "ending":
      return { label: "Ending", tone: "neutral" };
    case "ended":
      return { label: "Ended", tone: "neutral" };
    case "failed":
      return { label: "Failed", tone: "bad" };
    default:
      return { label: capitalise(room.status.replace(/_/g, " ")), tone: "neutral" };
  }
}

const REASON_WORDS: Record<string, string> = {
  end_idle: "Nobody was in the room",
  end_max_age: "The room reached its maximum length",
  fail_start_timeout: "The room's browser did not start in time",
  fail_agent_lost: "The room's browser stopped responding",
  fail_runtime_gone: "The room's browser stopped",
};

/** Why a room ended or failed, as a sentence; null when the server gave no reason. */
export function reasonWords(reason: string | null): string | null {
  if (reason === null || reason.trim() === "") return null;
  const known = REASON_WORDS[reason.trim()];
  return known ?? capitalise(reason.trim());
}

export function capitalise(text: string): string {
  return text.length === 0 ? text : text.charAt(0).toUpperCase() + text.slice(1);
}

/** Live rooms (newest first) and past rooms (most recently ended first). */
export function splitRooms<T extends RoomLike>(rooms: readonly T[]): { live: T[]; past: T[] } {
  const time = (iso: string | null) => (iso === null ? 0 : Date.parse(iso) || 0);
  const live = rooms.filter((r) => isLive(r.status)).sort((a, b) => time(b.created_at) - time(a.created_at));
  const past = rooms
    .filter((r) => !isLive(r.status))
    .sort((a, b) => time(b.ended_at ?? b.created_at) - time(a.ended_at ?? a.created_at));
  return { live, past };
}
