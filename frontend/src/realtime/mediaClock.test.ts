import { describe, expect, it } from "vitest";
import { PENDING_SEEK_MS, formatClock, holdPendingSeek, mayAddToQueue, mayControlMedia, mediaPosition, seekTarget, type PresentMedia } from "./mediaClock";

const media = (over: Partial<PresentMedia> = {}): PresentMedia => ({ present: true, paused: false, time: 10, duration: 60, rate: 1, muted: false, ended: false, title: "clip", ...over });

describe("mediaPosition", () => {
  it("advances a playing media by the time since its report, at its rate", () => {
    expect(mediaPosition(media(), 1_000, 3_500)).toBeCloseTo(12.5);
    expect(mediaPosition(media({ rate: 2 }), 1_000, 3_500)).toBeCloseTo(15);
  });
  it("holds a paused or ended media where it was reported", () => {
    expect(mediaPosition(media({ paused: true }), 1_000, 9_000)).toBe(10);
    expect(mediaPosition(media({ ended: true, time: 60 }), 1_000, 9_000)).toBe(60);
  });
  it("never runs past the duration, and live media keeps counting", () => {
    expect(mediaPosition(media({ time: 59 }), 0, 10_000)).toBe(60);
    expect(mediaPosition(media({ duration: null, time: 100 }), 0, 10_000)).toBe(110);
  });
  it("ignores a clock that went backwards", () => {
    expect(mediaPosition(media(), 5_000, 4_000)).toBe(10);
  });
});

describe("formatClock", () => {
  it("writes minutes and seconds, and hours when there are any", () => {
    expect(formatClock(0)).toBe("0:00");
    expect(formatClock(65.9)).toBe("1:05");
    expect(formatClock(751)).toBe("12:31");
    expect(formatClock(3 * 3600 + 2 * 60 + 9)).toBe("3:02:09");
    expect(formatClock(Number.NaN)).toBe("0:00");
  });
});

describe("seekTarget (the Position slider's keys)", () => {
  it("moves 5 s with the arrows and 30 s with the page keys, within the media", () => {
    expect(seekTarget("ArrowRight", 10, 60)).toBe(15);
    expect(seekTarget("ArrowUp", 10, 60)).toBe(15);
    expect(seekTarget("ArrowLeft", 10, 60)).toBe(5);
    expect(seekTarget("ArrowDown", 3, 60)).toBe(0);
    expect(seekTarget("ArrowRight", 58, 60)).toBe(60);
    expect(seekTarget("PageUp", 10, 60)).toBe(40);
    expect(seekTarget("PageDown", 10, 60)).toBe(0);
  });
  it("goes to the start with Home and to the end with End", () => {
    expect(seekTarget("Home", 42, 60)).toBe(0);
    expect(seekTarget("End", 42, 60.5)).toBe(60.5);
  });
  it("does nothing for other keys and for live media", () => {
    expect(seekTarget("a", 10, 60)).toBeNull();
    expect(seekTarget(" ", 10, 60)).toBeNull();
    expect(seekTarget("ArrowRight", 10, null)).toBeNull();
  });
});

describe("holdPendingSeek", () => {
  const pending = { target: 40, sentAt: 1_000 };
  it("shows the seek's target until a report made after it lands near it", () => {
    expect(holdPendingSeek(pending, 10, 500, 1_100)).toBe(true); // the report is older than the seek
    expect(holdPendingSeek(pending, 10.5, 1_200, 1_300)).toBe(true); // a report from before the seek took effect
    expect(holdPendingSeek(pending, 40.2, 1_200, 1_300)).toBe(false);
  });
  it("gives up after its time", () => {
    expect(holdPendingSeek(pending, 10, 500, 1_000 + PENDING_SEEK_MS + 1)).toBe(false);
    expect(holdPendingSeek(null, 10, 500, 1_000)).toBe(false);
  });
});

describe("who may control the media and add to the queue", () => {
  const host = { user_id: "h", role: "host" };
  const guest = { user_id: "g", role: "guest" };
  const open = { anyone_can_pause: true, queue_host_only: false, block_ads: true };
  const closed = { anyone_can_pause: false, queue_host_only: true, block_ads: true };
  it("lets everyone while the room says so", () => {
    expect(mayControlMedia(open, guest, null)).toBe(true);
    expect(mayAddToQueue(open, guest, null)).toBe(true);
  });
  it("otherwise only the host and the holder of the remote", () => {
    expect(mayControlMedia(closed, guest, "h")).toBe(false);
    expect(mayControlMedia(closed, guest, "g")).toBe(true);
    expect(mayControlMedia(closed, host, "g")).toBe(true);
    expect(mayAddToQueue(closed, guest, null)).toBe(false);
    expect(mayAddToQueue(closed, guest, "g")).toBe(true);
    expect(mayAddToQueue(closed, host, null)).toBe(true);
  });
  it("nobody before the room said who you are", () => {
    expect(mayControlMedia(open, null, null)).toBe(false);
  });
});
