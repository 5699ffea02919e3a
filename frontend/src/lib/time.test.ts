import { describe, expect, it } from "vitest";
import { dayKey, durationWords, formatDateTime, formatDay, formatTime, relativeTime } from "./time";

const NOW = Date.parse("2026-03-12T14:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

describe("relativeTime", () => {
  it("says just now for the last seconds", () => {
    expect(relativeTime(ago(10), NOW)).toBe("just now");
    expect(relativeTime(ago(-10), NOW)).toBe("just now");
  });
  it("counts minutes, hours and days both ways", () => {
    expect(relativeTime(ago(60), NOW)).toBe("1 minute ago");
    expect(relativeTime(ago(5 * 60), NOW)).toBe("5 minutes ago");
    expect(relativeTime(ago(3 * 3600), NOW)).toBe("3 hours ago");
    expect(relativeTime(ago(24 * 3600), NOW)).toBe("yesterday");
    expect(relativeTime(ago(3 * 24 * 3600), NOW)).toBe("3 days ago");
    expect(relativeTime(ago(-2 * 24 * 3600), NOW)).toBe("in 2 days");
    expect(relativeTime(ago(-30 * 24 * 3600), NOW)).toBe("next month");
  });
  it("is empty for a bad date", () => {
    expect(relativeTime("nope", NOW)).toBe("");
  });
});

describe("formatDateTime", () => {
  it("formats in the given zone", () => {
    expect(formatDateTime("2026-03-12T14:05:00Z", "en-GB", "UTC")).toBe("12 Mar 2026, 14:05");
  });
});

describe("formatTime and days", () => {
  it("shows the time of day", () => {
    expect(formatTime("2026-03-12T09:30:00Z", "en-GB", "UTC")).toBe("09:30");
  });
  it("groups by calendar day in the zone", () => {
    expect(dayKey("2026-03-12T23:30:00Z", "UTC")).toBe("2026-03-12");
    expect(dayKey("2026-03-12T23:30:00Z", "Europe/Berlin")).toBe("2026-03-13");
  });
  it("names today, yesterday and other days", () => {
    expect(formatDay("2026-03-12T08:00:00Z", NOW, "en-GB", "UTC")).toBe("Today");
    expect(formatDay("2026-03-11T08:00:00Z", NOW, "en-GB", "UTC")).toBe("Yesterday");
    expect(formatDay("2026-03-10T08:00:00Z", NOW, "en-GB", "UTC")).toMatch(/^Tuesday,? 10 March 2026$/);
  });
});

describe("durationWords", () => {
  it("rounds to minutes", () => {
    expect(durationWords("2026-03-12T14:00:00Z", "2026-03-12T14:00:20Z")).toBe("under a minute");
    expect(durationWords("2026-03-12T14:00:00Z", "2026-03-12T14:45:00Z")).toBe("45 min");
    expect(durationWords("2026-03-12T14:00:00Z", "2026-03-12T16:05:00Z")).toBe("2 h 5 min");
    expect(durationWords("2026-03-12T14:00:00Z", "2026-03-12T16:00:00Z")).toBe("2 h");
  });
});
