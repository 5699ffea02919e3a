// Per-viewer quality on the `input` data channel (docs/protocol.md, "Data channels"): the
// viewer's cap (0x0B), its receiver statistics (0x0C, about once a second) and the agent's
// quality status (0x83). Pure functions and the saved choice; no DOM beyond `localStorage`.

export const QualityOp = { cap: 0x0b, receiverStats: 0x0c, status: 0x83 } as const;

/** The menu's choices: the highest rung height this viewer wants (0 = Auto: the link decides). */
export const QUALITY_CHOICES = [
  { maxHeight: 0, label: "Auto" },
  { maxHeight: 720, label: "720p" },
  { maxHeight: 480, label: "480p" },
  { maxHeight: 360, label: "360p" },
] as const;

export type QualityCap = (typeof QUALITY_CHOICES)[number]["maxHeight"];

export function isQualityCap(v: unknown): v is QualityCap {
  return QUALITY_CHOICES.some((c) => c.maxHeight === v);
}

/** `0x0B u16 max_height`. */
export function encodeQualityCap(maxHeight: QualityCap): Uint8Array {
  const buf = new Uint8Array(3);
  buf[0] = QualityOp.cap;
  new DataView(buf.buffer).setUint16(1, maxHeight, true);
  return buf;
}

/** Cumulative counters of the video inbound-rtp (getStats), as the agent reads them. */
export interface ReceiverCounters {
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  framesDropped: number;
  freezeCount: number;
  totalFreezesDurationMs: number;
  /** Mean jitter-buffer delay of the frames emitted since the previous report, ms. */
  jitterBufferDelayMs: number;
}

const U32 = 0xffff_ffff;
const U16 = 0xffff;

function clamp(v: number, max: number): number {
  if (!Number.isFinite(v) || v <= 0) return 0;
  return Math.min(max, Math.round(v));
}

/** `0x0C u32 bytes_received, packets_received, packets_lost, frames_decoded, frames_dropped,
 * freeze_count, total_freezes_duration_ms, u16 jitter_buffer_delay_ms`, each clamped to its range
 * (a u32 byte counter wraps after 4 GiB: the agent takes differences modulo 2^32). */
export function encodeReceiverStats(c: ReceiverCounters): Uint8Array {
  const buf = new Uint8Array(31);
  const view = new DataView(buf.buffer);
  buf[0] = QualityOp.receiverStats;
  const u32s = [c.bytesReceived % 2 ** 32, c.packetsReceived, c.packetsLost, c.framesDecoded, c.framesDropped, c.freezeCount, c.totalFreezesDurationMs];
  u32s.forEach((v, i) => view.setUint32(1 + 4 * i, clamp(v, U32), true));
  view.setUint16(29, clamp(c.jitterBufferDelayMs, U16), true);
  return buf;
}

export interface QualityStatus {
  width: number;
  height: number;
  fps: number;
  /** The link (the agent's estimate of it) is what keeps this viewer below the top rung. */
  linkLimited: boolean;
  /** This viewer's own choice (its cap) keeps it below the top rung. */
  capped: boolean;
  estimateKbps: number;
  maxHeightCap: number;
}

/** `0x83 u16 width, u16 height, u8 fps, u8 flags, u32 estimate_kbps, u16 max_height_cap`;
 * null when it is not one (or too short). Extra trailing bytes are ignored (later fields). */
export function decodeQualityStatus(data: ArrayBuffer): QualityStatus | null {
  const view = new DataView(data);
  if (view.byteLength < 13 || view.getUint8(0) !== QualityOp.status) return null;
  const flags = view.getUint8(6);
  return {
    width: view.getUint16(1, true),
    height: view.getUint16(3, true),
    fps: view.getUint8(5),
    linkLimited: (flags & 1) !== 0,
    capped: (flags & 2) !== 0,
    estimateKbps: view.getUint32(7, true),
    maxHeightCap: view.getUint16(11, true),
  };
}

/** Reads the video inbound-rtp's counters out of a getStats report. `previous` (the last
 * report's raw jitter-buffer sums) turns the cumulative jitter-buffer delay into the mean of the
 * frames emitted since; it is updated in place. */
export function receiverCounters(
  report: RTCStatsReport | Map<string, Record<string, unknown>>,
  previous: { delayS: number; emitted: number },
): ReceiverCounters | null {
  let out: ReceiverCounters | null = null;
  report.forEach((s: Record<string, unknown>) => {
    if (s.type !== "inbound-rtp" || s.kind !== "video") return;
    const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : 0);
    const delayS = n("jitterBufferDelay");
    const emitted = n("jitterBufferEmittedCount");
    const dEmitted = emitted - previous.emitted;
    const dDelay = delayS - previous.delayS;
    const meanMs = dEmitted > 0 && dDelay >= 0 ? (1000 * dDelay) / dEmitted : emitted > 0 ? (1000 * delayS) / emitted : 0;
    previous.delayS = delayS;
    previous.emitted = emitted;
    out = {
      bytesReceived: n("bytesReceived"),
      packetsReceived: n("packetsReceived"),
      packetsLost: n("packetsLost"),
      framesDecoded: n("framesDecoded"),
      framesDropped: n("framesDropped"),
      freezeCount: n("freezeCount"),
      totalFreezesDurationMs: 1000 * n("totalFreezesDuration"),
      jitterBufferDelayMs: meanMs,
    };
  });
  return out;
}

export const LIMITING_WORDS = "Your connection is limiting the picture";

/** The quality line's words: the rung (e.g. "480p · 30 fps") and why it is not the top one. */
export function qualityWords(status: QualityStatus | null): { rung: string; why: string | null } | null {
  if (!status || status.height === 0) return null;
  const rung = `${status.height}p · ${status.fps} fps`;
  if (status.linkLimited) return { rung, why: LIMITING_WORDS };
  if (status.capped) return { rung, why: "Capped by your quality choice" };
  return { rung, why: null };
}

const STORAGE_KEY = "wp.quality";

type Store = Pick<Storage, "getItem" | "setItem">;

/** The browser's localStorage, or null where there is none or reading it throws. */
function browserStorage(): Store | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The saved choice (per browser), Auto when none or unreadable. */
export function loadQualityCap(storage: Pick<Store, "getItem"> | null = browserStorage()): QualityCap {
  try {
    const v = Number(storage?.getItem(STORAGE_KEY));
    return isQualityCap(v) ? v : 0;
  } catch {
    return 0;
  }
}

export function saveQualityCap(cap: QualityCap, storage: Pick<Store, "setItem"> | null = browserStorage()): void {
  try {
    storage?.setItem(STORAGE_KEY, String(cap));
  } catch {
    // private mode or full storage: the choice lasts for this page only
  }
}
