import { describe, expect, it } from "vitest";
import { reasonWords, splitRooms, statusWords } from "./roomStatus";

describe("statusWords", () => {
  it("names the start-up stage", () => {
    expect(statusWords({ status: "starting", stage: "booting" })).toEqual({ label: "Starting · booting", tone: "warn" });
    expect(statusWords({ status: "starting", stage: "scheduling" }).label).toBe("Starting · scheduling");
    expect(statusWords({ status: "starting", stage: "browser_ready" }).label).toBe("Starting · loading the page");
    expect(statusWords({ status: "starting", stage: null }).label).toBe("Starting");
    expect(statusWords({ status: "creating", stage: null }).label).toBe("Starting · scheduling");
  });
  it("says Live, Idle, Ended, Failed", () => {
    expect(statusWords({ status: "ready", stage: "ready" })).toEqual({ label: "Live", tone: "good" });
    expect(statusWords({ status: "idle", stage: "ready" }).label).toBe("Idle");
    expect(statusWords({ status: "ended", stage: null }).label).toBe("Ended");
    expect(statusWords({ status: "failed", stage: null })).toEqual({ label: "Failed", tone: "bad" });
    expect(statusWords({ status: "weird_new", stage: null }).label).toBe("Weird new");
  });
});

describe("reasonWords", () => {
  it("turns reaper verdicts into sentences", () => {
    expect(reasonWords("end_idle")).toBe("Nobody was in the room");
    expect(reasonWords("ended by the host")).toBe("Ended by the host");
    expect(reasonWords(null)).toBeNull();
    expect(reasonWords("  ")).toBeNull();
  });
});

describe("splitRooms", () => {
  const room = (status: string, created: string, ended: string | null = null) => ({
    status,
    stage: null,
    status_reason: null,
    created_at: created,
    ended_at: ended,
  });
  it("puts live rooms first, newest first, and past rooms by end time", () => {
    const a = room("ended", "2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z");
    const b = room("ready", "2026-01-02T10:00:00Z");
    const c = room("failed", "2026-01-03T10:00:00Z", "2026-01-03T10:01:00Z");
    const d = room("starting", "2026-01-04T10:00:00Z");
    const e = room("idle", "2026-01-01T09:00:00Z");
    const { live, past } = splitRooms([a, b, c, d, e]);
    expect(live).toEqual([d, b, e]);
    expect(past).toEqual([c, a]);
  });
});
