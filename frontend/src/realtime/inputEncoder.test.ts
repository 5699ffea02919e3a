import { describe, expect, it } from "vitest";
import {
  Op,
  TEXT_MAX_CHARS,
  decodeAgentMessage,
  encodeButton,
  encodeKey,
  encodeMove,
  encodePing,
  encodeReleaseAll,
  encodeText,
  encodeWheel,
  modifierBits,
  toU16,
  xButton,
  type KeyInfo,
} from "./inputEncoder";

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u16 = (b: Uint8Array, at: number) => view(b).getUint16(at, true);
const i16 = (b: Uint8Array, at: number) => view(b).getInt16(at, true);
const bytes = (...xs: number[]) => Array.from(xs);
const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));
const decodeUtf8 = (b: Uint8Array) => new TextDecoder().decode(b);

function key(k: string, code: string, mods: Partial<Pick<KeyInfo, "shiftKey" | "ctrlKey" | "altKey" | "metaKey">> = {}): KeyInfo {
  return { key: k, code, shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, ...mods };
}

function ab(...xs: number[]): ArrayBuffer {
  return Uint8Array.from(xs).buffer;
}

describe("coordinates", () => {
  it("are round(fraction × 65535), clamped to 0..65535", () => {
    expect(toU16(0)).toBe(0);
    expect(toU16(1)).toBe(65535);
    expect(toU16(0.5)).toBe(32768); // 32767.5 rounds up
    expect(toU16(0.25)).toBe(Math.round(0.25 * 65535));
    expect(toU16(-0.2)).toBe(0);
    expect(toU16(1.7)).toBe(65535);
  });
});

describe("move 0x01", () => {
  it("is op, u16 x, u16 y little-endian (5 bytes)", () => {
    const b = encodeMove(0.25, 1);
    expect(b.length).toBe(5);
    expect(b[0]).toBe(0x01);
    const x = Math.round(0.25 * 65535); // 16384 = 0x4000
    expect(bytes(...b)).toEqual([0x01, x & 0xff, x >> 8, 0xff, 0xff]);
  });
  it("clamps points outside the picture", () => {
    const b = encodeMove(-1, 2);
    expect(u16(b, 1)).toBe(0);
    expect(u16(b, 3)).toBe(65535);
  });
});

describe("button down/up 0x02/0x03", () => {
  it("maps DOM buttons to X button numbers 1 left, 2 middle, 3 right, 8 back, 9 forward", () => {
    expect([0, 1, 2, 3, 4].map(xButton)).toEqual([1, 2, 3, 8, 9]);
    expect(xButton(5)).toBeNull();
    expect(xButton(-1)).toBeNull();
  });
  it("is op, u8 button, u16 x, u16 y (6 bytes)", () => {
    const down = encodeButton(true, 3, 0, 1);
    expect(bytes(...down)).toEqual([0x02, 3, 0, 0, 0xff, 0xff]);
    const up = encodeButton(false, 9, 0.5, 0.25);
    expect(up.length).toBe(6);
    expect(up[0]).toBe(0x03);
    expect(up[1]).toBe(9);
    expect(u16(up, 2)).toBe(32768);
    expect(u16(up, 4)).toBe(16384);
  });
});

describe("wheel 0x04", () => {
  it("is op, i16 dx, i16 dy, u16 x, u16 y (9 bytes), signed deltas", () => {
    const b = encodeWheel(-120, 53, 1, 0);
    expect(b.length).toBe(9);
    expect(b[0]).toBe(0x04);
    expect(i16(b, 1)).toBe(-120);
    expect(i16(b, 3)).toBe(53);
    expect(bytes(b[1] ?? -1, b[2] ?? -1)).toEqual([0x88, 0xff]); // -120 two's complement LE
    expect(u16(b, 5)).toBe(65535);
    expect(u16(b, 7)).toBe(0);
  });
  it("rounds and clamps deltas to the i16 range", () => {
    const b = encodeWheel(1e6, -1e6, 0.5, 0.5);
    expect(i16(b, 1)).toBe(32767);
    expect(i16(b, 3)).toBe(-32768);
    expect(i16(encodeWheel(2.6, -2.4, 0, 0), 1)).toBe(3);
    expect(i16(encodeWheel(2.6, -2.4, 0, 0), 3)).toBe(-2);
  });
});

describe("key down/up 0x05/0x06", () => {
  it("modifier bits: 1 shift, 2 ctrl, 4 alt, 8 meta", () => {
    expect(modifierBits(key("a", "KeyA"))).toBe(0);
    expect(modifierBits(key("A", "KeyA", { shiftKey: true }))).toBe(1);
    expect(modifierBits(key("a", "KeyA", { ctrlKey: true }))).toBe(2);
    expect(modifierBits(key("a", "KeyA", { altKey: true }))).toBe(4);
    expect(modifierBits(key("a", "KeyA", { metaKey: true }))).toBe(8);
    expect(modifierBits(key("a", "KeyA", { shiftKey: true, ctrlKey: true, altKey: true, metaKey: true }))).toBe(15);
  });
  it("Ctrl+L is 0x05, mods 2, key_len 1, 'l', 'KeyL'", () => {
    const b = encodeKey(true, key("l", "KeyL", { ctrlKey: true }));
    expect(bytes(...b)).toEqual([0x05, 2, 1, ...utf8("l"), ...utf8("KeyL")]);
  });
  it("key up uses 0x06 with the same layout", () => {
    const b = encodeKey(false, key("Enter", "NumpadEnter", { shiftKey: true, metaKey: true }));
    expect(bytes(...b)).toEqual([0x06, 9, 5, ...utf8("Enter"), ...utf8("NumpadEnter")]);
  });
  it("key is UTF-8 and key_len counts bytes; code is the ASCII rest", () => {
    const b = encodeKey(true, key("é", "KeyE", { altKey: true }));
    expect(b[0]).toBe(0x05);
    expect(b[1]).toBe(4);
    expect(b[2]).toBe(2); // "é" is two UTF-8 bytes
    expect(bytes(...b.slice(3, 5))).toEqual([0xc3, 0xa9]);
    expect(decodeUtf8(b.slice(5))).toBe("KeyE");
    const emoji = encodeKey(true, key("😀", ""));
    expect(emoji[2]).toBe(4);
    expect(decodeUtf8(emoji.slice(3, 7))).toBe("😀");
    expect(emoji.length).toBe(7); // empty code
  });
  it("drops non-ASCII from code", () => {
    const b = encodeKey(true, key("a", "Kéy"));
    expect(decodeUtf8(b.slice(4))).toBe("Ky");
  });
  it("never cuts a key in the middle of a character when it is too long for key_len", () => {
    const b = encodeKey(true, key("é".repeat(200), "KeyE"));
    const len = b[2] ?? 0;
    expect(len).toBeLessThanOrEqual(255);
    expect(decodeUtf8(b.slice(3, 3 + len))).toBe("é".repeat(len / 2));
    expect(decodeUtf8(b.slice(3 + len))).toBe("KeyE");
  });
});

describe("text 0x07", () => {
  it("is op then UTF-8 text, non-ASCII included", () => {
    const [b, ...rest] = encodeText("hé 👋 日本");
    expect(rest).toEqual([]);
    expect(b?.[0]).toBe(0x07);
    expect(decodeUtf8(b?.slice(1) ?? new Uint8Array())).toBe("hé 👋 日本");
  });
  it("splits at 1000 characters (code points, never inside a surrogate pair)", () => {
    const text = "a".repeat(999) + "😀" + "b".repeat(1001);
    const msgs = encodeText(text);
    expect(msgs.length).toBe(3);
    const parts = msgs.map((m) => {
      expect(m[0]).toBe(Op.text);
      return decodeUtf8(m.slice(1));
    });
    expect(Array.from(parts[0] ?? "").length).toBe(TEXT_MAX_CHARS);
    expect(parts[0]?.endsWith("😀")).toBe(true);
    expect(parts[1]).toBe("b".repeat(1000));
    expect(parts[2]).toBe("b");
    expect(parts.join("")).toBe(text);
  });
  it("exactly 1000 characters is one message; empty text none", () => {
    expect(encodeText("x".repeat(1000)).length).toBe(1);
    expect(encodeText("")).toEqual([]);
  });
});

describe("release all 0x08 and ping 0x09", () => {
  it("release all is the bare opcode", () => {
    expect(bytes(...encodeReleaseAll())).toEqual([0x08]);
  });
  it("ping is op, u32 id, f64 sent_ms little-endian (13 bytes, ≤ 64)", () => {
    const b = encodePing(0x01020304, 1234.5);
    expect(b.length).toBe(13);
    expect(bytes(...b.slice(0, 5))).toEqual([0x09, 0x04, 0x03, 0x02, 0x01]);
    expect(view(b).getFloat64(5, true)).toBe(1234.5);
    expect(view(encodePing(-1, 0)).getUint32(1, true)).toBe(0xffffffff);
  });
});

describe("decodeAgentMessage", () => {
  it("decodes a pong (the ping's bytes echoed with 0x0A)", () => {
    const ping = encodePing(42, 987.25);
    const pong = ping.slice();
    pong[0] = 0x0a;
    expect(decodeAgentMessage(pong.buffer)).toEqual({ op: "pong", id: 42, sentMs: 987.25 });
  });
  it("decodes a cursor position 0x81 as fractions", () => {
    expect(decodeAgentMessage(ab(0x81, 0xff, 0xff, 0, 0))).toEqual({ op: "cursorPosition", x: 1, y: 0 });
    const m = decodeAgentMessage(ab(0x81, 0x00, 0x80, 0x00, 0x40));
    expect(m.op).toBe("cursorPosition");
    if (m.op === "cursorPosition") {
      expect(m.x).toBeCloseTo(0x8000 / 65535, 9);
      expect(m.y).toBeCloseTo(0x4000 / 65535, 9);
    }
  });
  it("decodes a cursor shape 0x82 with its RGBA pixels", () => {
    // 2×1, hotspot (1, 0), two pixels
    const m = decodeAgentMessage(ab(0x82, 2, 0, 1, 0, 1, 0, 0, 0, 10, 20, 30, 255, 40, 50, 60, 128));
    expect(m.op).toBe("cursorShape");
    if (m.op !== "cursorShape") return;
    expect([m.width, m.height, m.hotX, m.hotY]).toEqual([2, 1, 1, 0]);
    expect(Array.from(m.rgba)).toEqual([10, 20, 30, 255, 40, 50, 60, 128]);
  });
  it("a truncated cursor shape, a short message, an empty one or an unknown opcode → unknown", () => {
    expect(decodeAgentMessage(ab(0x82, 2, 0, 2, 0, 0, 0, 0, 0, 1, 2, 3))).toEqual({ op: "unknown" });
    expect(decodeAgentMessage(ab(0x82, 1, 0))).toEqual({ op: "unknown" });
    expect(decodeAgentMessage(ab(0x81, 1, 2))).toEqual({ op: "unknown" });
    expect(decodeAgentMessage(ab(0x0a, 1, 2, 3))).toEqual({ op: "unknown" });
    expect(decodeAgentMessage(new ArrayBuffer(0))).toEqual({ op: "unknown" });
    expect(decodeAgentMessage(ab(0x42, 0, 0, 0, 0))).toEqual({ op: "unknown" });
  });
});
