import { describe, expect, it } from "vitest";
import { isRoomCode, parseRoomInput } from "./roomCode";

describe("parseRoomInput", () => {
  it.each([
    ["k7qm3xtp", "k7qm3xtp"],
    ["  K7QM3XTP ", "k7qm3xtp"],
    ["http://host/room/k7qm3xtp", "k7qm3xtp"],
    ["http://host/room/k7qm3xtp/", "k7qm3xtp"],
    ["https://watch.example.com/room/k7qm3xtp?ref=mail", "k7qm3xtp"],
    ["https://watch.example.com/room/k7qm3xtp/?x=1#chat", "k7qm3xtp"],
    ["http://localhost:8000/room/K7QM3XTP", "k7qm3xtp"],
    ["watch.example.com/room/k7qm3xtp", "k7qm3xtp"],
    ["/room/k7qm3xtp", "k7qm3xtp"],
  ])("accepts %j", (input, code) => {
    expect(parseRoomInput(input)).toEqual({ ok: true, code });
  });

  it("explains an empty input", () => {
    const r = parseRoomInput("   ");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/enter a room code/i);
  });

  it.each(["k7qm3xt", "k7qm3xtpp", "k7qm3xt0", "hello world", "k7qm-3xtp"])("rejects the code %j", (input) => {
    const r = parseRoomInput(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/8 letters and digits/);
  });

  it.each(["http://host/dashboard", "http://host/room/", "http://host/room/k7qm3xtp/extra", "http://host/rooms/k7qm3xtp"])(
    "rejects the link %j",
    (input) => {
      const r = parseRoomInput(input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/not a room invite/);
    },
  );

  it("rejects a link whose code is malformed", () => {
    const r = parseRoomInput("http://host/room/abc");
    expect(r.ok).toBe(false);
  });
});

describe("isRoomCode", () => {
  it("uses the control plane's alphabet", () => {
    expect(isRoomCode("23456789")).toBe(true);
    expect(isRoomCode("abcdefgh")).toBe(true);
    expect(isRoomCode("abcdefgl")).toBe(false);
    expect(isRoomCode("ABCDEFGH")).toBe(false);
  });
});
