// The room's media as the page shows it between two `media.state` reports, and the position
// slider's keys. Pure: every function takes the time it needs.
import type { MediaState, RoomSettings } from "./protocol";

export type PresentMedia = Extract<MediaState, { present: true }>;

/** Seconds the media is at `now` (ms, the clock `receivedAt` was read on): the reported time
 * advanced by the rate while it plays, never past the duration. */
export function mediaPosition(media: PresentMedia, receivedAt: number, now: number): number {
  let t = media.time;
  if (!media.paused && !media.ended) t += (Math.max(0, now - receivedAt) / 1000) * media.rate;
  if (media.duration !== null && Number.isFinite(media.duration)) t = Math.min(t, media.duration);
  return Math.max(0, t);
}

/** "4:05", "1:02:09": a media position in the player's way. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** How far the position slider's arrow keys move, in seconds. */
export const SEEK_STEP_S = 5;
export const SEEK_PAGE_S = 30;

/** Where a key on the position slider seeks to (seconds), from `base`; null: not a seek key,
 * or live media (no duration) which has no position to move. */
export function seekTarget(key: string, base: number, duration: number | null): number | null {
  if (duration === null || !Number.isFinite(duration) || duration <= 0) return null;
  let t: number;
  switch (key) {
    case "ArrowRight":
    case "ArrowUp":
      t = base + SEEK_STEP_S;
      break;
    case "ArrowLeft":
    case "ArrowDown":
      t = base - SEEK_STEP_S;
      break;
    case "PageUp":
      t = base + SEEK_PAGE_S;
      break;
    case "PageDown":
      t = base - SEEK_PAGE_S;
      break;
    case "Home":
      t = 0;
      break;
    case "End":
      t = duration;
      break;
    default:
      return null;
  }
  return Math.min(duration, Math.max(0, t));
}

/** A seek the page sent and shows until the agent's reports catch up with it. */
export interface PendingSeek {
  target: number;
  sentAt: number;
}

/** How long a sent seek is shown at most while no report confirms it. */
export const PENDING_SEEK_MS = 2_000;

/** Whether the position shown should still be the pending seek's target rather than the
 * reported one: until a report made after the seek lands near the target, or for at most
 * PENDING_SEEK_MS. */
export function holdPendingSeek(pending: PendingSeek | null, reported: number, receivedAt: number, now: number): boolean {
  if (!pending) return false;
  if (now - pending.sentAt > PENDING_SEEK_MS) return false;
  return !(receivedAt >= pending.sentAt && Math.abs(reported - pending.target) < 1.5);
}

/** May this member play, pause and seek (the server checks the same: `not_allowed`)? */
export function mayControlMedia(settings: RoomSettings, you: { user_id: string; role: string } | null, holderId: string | null): boolean {
  if (!you) return false;
  return settings.anyone_can_pause || you.role === "host" || holderId === you.user_id;
}

/** May this member add to the queue (`queue_host_only` limits it to host and holder)? */
export function mayAddToQueue(settings: RoomSettings, you: { user_id: string; role: string } | null, holderId: string | null): boolean {
  if (!you) return false;
  return !settings.queue_host_only || you.role === "host" || holderId === you.user_id;
}

/** The playback rates offered in the media bar (the agent takes 0.25..4). */
export const RATES = [0.5, 0.75, 1, 1.25, 1.5, 2] as const;
