import { describe, expect, it } from "vitest";
import {
  decodeQualityStatus,
  encodeQualityCap,
  encodeReceiverStats,
  LIMITING_WORDS,
  loadQualityCap,
  QUALITY_CHOICES,
  qualityWords,
  receiverCounters,
  saveQualityCap,
} from "./quality";

/** An 0x83 quality status as the agent sends it. */
function status(width: number, height: number, fps: number, flags: number, kbps: number, cap: number): ArrayBuffer {
  const buf = new ArrayBuffer(13);
  const v = new DataView(buf);
  v.setUint8(0, 0x83);
  v.setUint16(1, width, true);
  v.setUint16(3, height, true);
  v.setUint8(5, fps);
  v.setUint8(6, flags);
  v.setUint32(7, kbps, true);
  v.setUint16(11, cap, true);
  return buf;
}

describe("quality wire format", () => {
  it("encodes the cap as 0x0B u16 little-endian", () => {
    expect([...encodeQualityCap(0)]).toEqual([0x0b, 0, 0]);
    expect([...encodeQualityCap(720)]).toEqual([0x0b, 0xd0, 0x02]);
    expect([...encodeQualityCap(360)]).toEqual([0x0b, 0x68, 0x01]);
    expect(QUALITY_CHOICES.map((c) => c.label)).toEqual(["Auto", "720p", "480p", "360p"]);
  });

  it("encodes receiver stats as 0x0C, seven u32 and a u16, clamped", () => {
    const b = encodeReceiverStats({
      bytesReceived: 2 ** 32 + 5, // wraps: the agent differences modulo 2^32
      packetsReceived: 1000,
      packetsLost: -3, // Chromium can report negative loss (duplicates): 0
      framesDecoded: 2 ** 40, // clamped
      framesDropped: 7.6,
      freezeCount: 2,
      totalFreezesDurationMs: 1234.4,
      jitterBufferDelayMs: 70_000, // clamped to u16
    });
    expect(b.length).toBe(31);
    const v = new DataView(b.buffer);
    expect(v.getUint8(0)).toBe(0x0c);
    expect([1, 5, 9, 13, 17, 21, 25].map((o) => v.getUint32(o, true))).toEqual([5, 1000, 0, 0xffffffff, 8, 2, 1234]);
    expect(v.getUint16(29, true)).toBe(0xffff);
  });

  it("decodes the agent's 0x83 quality status and its flags", () => {
    expect(decodeQualityStatus(status(854, 480, 30, 1, 1100, 0))).toEqual({
      width: 854,
      height: 480,
      fps: 30,
      linkLimited: true,
      capped: false,
      estimateKbps: 1100,
      maxHeightCap: 0,
    });
    expect(decodeQualityStatus(status(640, 360, 15, 2, 9000, 360))).toMatchObject({ linkLimited: false, capped: true, maxHeightCap: 360, fps: 15 });
    expect(decodeQualityStatus(status(640, 360, 15, 2, 9000, 360).slice(0, 12))).toBeNull(); // truncated
    expect(decodeQualityStatus(Uint8Array.of(0x82, ...new Array<number>(12).fill(0)).buffer)).toBeNull();
  });
});

describe("quality words", () => {
  it("names the rung and says when the connection is what limits it", () => {
    const limited = decodeQualityStatus(status(854, 480, 30, 1, 1100, 0));
    expect(qualityWords(limited)).toEqual({ rung: "480p · 30 fps", why: LIMITING_WORDS });
    expect(LIMITING_WORDS).toBe("Your connection is limiting the picture");
    expect(qualityWords(decodeQualityStatus(status(640, 360, 30, 2, 9000, 360)))?.why).toMatch(/your quality choice/);
    expect(qualityWords(decodeQualityStatus(status(1280, 720, 30, 0, 9000, 0)))).toEqual({ rung: "720p · 30 fps", why: null });
    expect(qualityWords(null)).toBeNull();
  });
});

describe("receiver counters", () => {
  it("reads the video inbound-rtp and turns the jitter-buffer sums into the recent mean", () => {
    const prev = { delayS: 0, emitted: 0 };
    const report = (delayS: number, emitted: number) =>
      new Map<string, Record<string, unknown>>([
        ["a", { type: "inbound-rtp", kind: "audio", bytesReceived: 99 }],
        [
          "v",
          {
            type: "inbound-rtp",
            kind: "video",
            bytesReceived: 5000,
            packetsReceived: 40,
            packetsLost: 2,
            framesDecoded: 30,
            framesDropped: 1,
            freezeCount: 1,
            totalFreezesDuration: 0.5,
            jitterBufferDelay: delayS,
            jitterBufferEmittedCount: emitted,
          },
        ],
      ]);
    expect(receiverCounters(report(3, 100), prev)).toEqual({
      bytesReceived: 5000,
      packetsReceived: 40,
      packetsLost: 2,
      framesDecoded: 30,
      framesDropped: 1,
      freezeCount: 1,
      totalFreezesDurationMs: 500,
      jitterBufferDelayMs: 30, // first report: 3 s over 100 frames
    });
    expect(receiverCounters(report(4, 110), prev)?.jitterBufferDelayMs).toBeCloseTo(100); // 1 s over 10 frames since
    expect(receiverCounters(new Map(), prev)).toBeNull();
  });
});

describe("saved choice", () => {
  it("round-trips through storage and falls back to Auto", () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(loadQualityCap(storage)).toBe(0);
    saveQualityCap(480, storage);
    expect(loadQualityCap(storage)).toBe(480);
    m.set("wp.quality", "1080");
    expect(loadQualityCap(storage)).toBe(0);
    expect(loadQualityCap({ getItem: () => { throw new Error("denied"); } })).toBe(0);
  });
});
