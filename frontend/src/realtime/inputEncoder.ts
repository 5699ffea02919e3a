// The binary input wire format of the `pointer` and `input` data channels (docs/protocol.md,
// "Data channels"): a 1-byte opcode, then little-endian fields. Pure functions, no DOM.

export const Op = {
  move: 0x01,
  buttonDown: 0x02,
  buttonUp: 0x03,
  wheel: 0x04,
  keyDown: 0x05,
  keyUp: 0x06,
  text: 0x07,
  releaseAll: 0x08,
  ping: 0x09,
  pong: 0x0a,
  cursorPosition: 0x81,
  cursorShape: 0x82,
} as const;

export const Modifier = { shift: 1, ctrl: 2, alt: 4, meta: 8 } as const;
export const TEXT_MAX_CHARS = 1000;

/** A fraction 0..1 of the stream's width or height as the wire's u16 (0 = left/top). */
export function toU16(fraction: number): number {
  return Math.round(Math.min(1, Math.max(0, fraction)) * 65535);
}

function i16(v: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(v)));
}

export function encodeMove(x: number, y: number): Uint8Array {
  const buf = new Uint8Array(5);
  const view = new DataView(buf.buffer);
  buf[0] = Op.move;
  view.setUint16(1, toU16(x), true);
  view.setUint16(3, toU16(y), true);
  return buf;
}

/** DOM `MouseEvent.button` (0 left, 1 middle, 2 right, 3 back, 4 forward) as the X button number. */
export function xButton(domButton: number): number | null {
  return ({ 0: 1, 1: 2, 2: 3, 3: 8, 4: 9 } as Record<number, number>)[domButton] ?? null;
}

export function encodeButton(down: boolean, button: number, x: number, y: number): Uint8Array {
  const buf = new Uint8Array(6);
  const view = new DataView(buf.buffer);
  buf[0] = down ? Op.buttonDown : Op.buttonUp;
  buf[1] = button;
  view.setUint16(2, toU16(x), true);
  view.setUint16(4, toU16(y), true);
  return buf;
}

/** Wheel deltas in CSS pixels (deltaMode 0); lines and pages are converted by the caller. */
export function encodeWheel(dx: number, dy: number, x: number, y: number): Uint8Array {
  const buf = new Uint8Array(9);
  const view = new DataView(buf.buffer);
  buf[0] = Op.wheel;
  view.setInt16(1, i16(dx), true);
  view.setInt16(3, i16(dy), true);
  view.setUint16(5, toU16(x), true);
  view.setUint16(7, toU16(y), true);
  return buf;
}

export interface KeyInfo {
  key: string;
  code: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

export function modifierBits(e: Pick<KeyInfo, "shiftKey" | "ctrlKey" | "altKey" | "metaKey">): number {
  return (e.shiftKey ? Modifier.shift : 0) | (e.ctrlKey ? Modifier.ctrl : 0) | (e.altKey ? Modifier.alt : 0) | (e.metaKey ? Modifier.meta : 0);
}

const utf8 = new TextEncoder();

export function encodeKey(down: boolean, e: KeyInfo): Uint8Array {
  const full = utf8.encode(e.key);
  // key_len is one byte: cut at 255 bytes, but never inside a character (UTF-8 continuation bytes are 10xxxxxx).
  let keyLen = Math.min(255, full.length);
  while (keyLen < full.length && keyLen > 0 && ((full[keyLen] ?? 0) & 0xc0) === 0x80) keyLen -= 1;
  const key = full.slice(0, keyLen);
  const code = utf8.encode(e.code.replace(/[^\x20-\x7e]/g, ""));
  const buf = new Uint8Array(3 + key.length + code.length);
  buf[0] = down ? Op.keyDown : Op.keyUp;
  buf[1] = modifierBits(e);
  buf[2] = key.length;
  buf.set(key, 3);
  buf.set(code, 3 + key.length);
  return buf;
}

/** Text typed as-is (IME results, paste). Longer text is split into several messages. */
export function encodeText(text: string): Uint8Array[] {
  const chars = Array.from(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < chars.length; i += TEXT_MAX_CHARS) {
    const body = utf8.encode(chars.slice(i, i + TEXT_MAX_CHARS).join(""));
    const buf = new Uint8Array(1 + body.length);
    buf[0] = Op.text;
    buf.set(body, 1);
    out.push(buf);
  }
  return out;
}

export function encodeReleaseAll(): Uint8Array {
  return Uint8Array.of(Op.releaseAll);
}

/** A ping carrying `u32 id, f64 sent_ms`; the agent echoes the bytes in a pong. */
export function encodePing(id: number, sentMs: number): Uint8Array {
  const buf = new Uint8Array(13);
  const view = new DataView(buf.buffer);
  buf[0] = Op.ping;
  view.setUint32(1, id >>> 0, true);
  view.setFloat64(5, sentMs, true);
  return buf;
}

export type AgentMessage =
  | { op: "pong"; id: number; sentMs: number }
  | { op: "cursorPosition"; x: number; y: number }
  | { op: "cursorShape"; width: number; height: number; hotX: number; hotY: number; rgba: Uint8ClampedArray }
  | { op: "unknown" };

/** Decodes what the agent sends on the data channels (pong, cursor position and shape). */
export function decodeAgentMessage(data: ArrayBuffer): AgentMessage {
  const view = new DataView(data);
  if (view.byteLength < 1) return { op: "unknown" };
  const op = view.getUint8(0);
  if (op === Op.pong && view.byteLength >= 13) {
    return { op: "pong", id: view.getUint32(1, true), sentMs: view.getFloat64(5, true) };
  }
  if (op === Op.cursorPosition && view.byteLength >= 5) {
    return { op: "cursorPosition", x: view.getUint16(1, true) / 65535, y: view.getUint16(3, true) / 65535 };
  }
  if (op === Op.cursorShape && view.byteLength >= 9) {
    const width = view.getUint16(1, true);
    const height = view.getUint16(3, true);
    const size = width * height * 4;
    if (view.byteLength < 9 + size) return { op: "unknown" };
    const rgba = new Uint8ClampedArray(data.slice(9, 9 + size));
    return { op: "cursorShape", width, height, hotX: view.getUint16(5, true), hotY: view.getUint16(7, true), rgba };
  }
  return { op: "unknown" };
}
