import { describe, expect, it } from "vitest";
import { normaliseStartUrl, parseCapacity } from "./startUrl";

describe("normaliseStartUrl", () => {
  it.each([
    ["", null],
    ["   ", null],
    ["https://example.com/x", "https://example.com/x"],
    ["http://example.com", "http://example.com"],
    ["example.com/watch?v=1", "https://example.com/watch?v=1"],
    ["localhost:8080/page", "https://localhost:8080/page"],
    ["  www.youtube.com ", "https://www.youtube.com"],
    ["ftp://example.com", "ftp://example.com"],
  ])("%j → %j", (input, out) => {
    expect(normaliseStartUrl(input)).toBe(out);
  });
});

describe("parseCapacity", () => {
  it("accepts empty and whole numbers in range", () => {
    expect(parseCapacity("", 50)).toEqual({ ok: true, value: null });
    expect(parseCapacity(" 12 ", 50)).toEqual({ ok: true, value: 12 });
    expect(parseCapacity("50", 50)).toEqual({ ok: true, value: 50 });
  });
  it("rejects the rest in words", () => {
    expect(parseCapacity("0", 50)).toEqual({ ok: false, error: "A room holds 1 to 50 people." });
    expect(parseCapacity("51", 50).ok).toBe(false);
    expect(parseCapacity("2.5", 50)).toEqual({ ok: false, error: "Enter a whole number from 1 to 50." });
    expect(parseCapacity("ten", 50).ok).toBe(false);
  });
});
