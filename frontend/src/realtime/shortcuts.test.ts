// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { focusKind, roomShortcut, type FocusInfo, type KeyInfo } from "./shortcuts";

const down = (key: string, over: Partial<KeyInfo> = {}): KeyInfo => ({ key, type: "keydown", repeat: false, ctrlKey: false, altKey: false, metaKey: false, ...over });
const free: FocusInfo = { typing: false, activates: false, driving: false };

describe("roomShortcut", () => {
  it("Space plays or pauses, F toggles fullscreen, P points while held", () => {
    expect(roomShortcut(down(" "), free)).toBe("toggle_play");
    expect(roomShortcut(down("f"), free)).toBe("fullscreen");
    expect(roomShortcut(down("F"), free)).toBe("fullscreen");
    expect(roomShortcut(down("p"), free)).toBe("point_start");
    expect(roomShortcut(down("p", { type: "keyup" }), free)).toBe("point_end");
  });
  it("leaves keys that drive the shared browser to it", () => {
    expect(roomShortcut(down(" "), { ...free, driving: true })).toBeNull();
    expect(roomShortcut(down("f"), { ...free, driving: true })).toBeNull();
  });
  it("leaves typing in fields alone", () => {
    const field = { ...free, typing: true };
    expect(roomShortcut(down(" "), field)).toBeNull();
    expect(roomShortcut(down("f"), field)).toBeNull();
    expect(roomShortcut(down("p"), field)).toBeNull();
  });
  it("leaves Space to a focused button or slider, but F and P still work there", () => {
    const button = { ...free, activates: true };
    expect(roomShortcut(down(" "), button)).toBeNull();
    expect(roomShortcut(down("f"), button)).toBe("fullscreen");
    expect(roomShortcut(down("p"), button)).toBe("point_start");
  });
  it("leaves the tab's and the system's shortcuts alone, and ignores auto-repeat", () => {
    expect(roomShortcut(down("f", { ctrlKey: true }), free)).toBeNull();
    expect(roomShortcut(down("f", { metaKey: true }), free)).toBeNull();
    expect(roomShortcut(down(" ", { altKey: true }), free)).toBeNull();
    expect(roomShortcut(down(" ", { repeat: true }), free)).toBeNull();
    expect(roomShortcut(down("p", { repeat: true }), free)).toBeNull();
  });
  it("ends pointing when P is let go wherever the focus went", () => {
    expect(roomShortcut(down("p", { type: "keyup" }), { typing: true, activates: false, driving: true })).toBe("point_end");
    expect(roomShortcut(down("f", { type: "keyup" }), free)).toBeNull();
  });
});

describe("focusKind", () => {
  const el = (html: string): Element => {
    document.body.innerHTML = html;
    const first = document.body.firstElementChild;
    if (!first) throw new Error("no element");
    return first;
  };
  it("text entry takes typing", () => {
    for (const html of ['<input aria-label="Add to queue">', "<textarea></textarea>", "<select></select>", '<div role="textbox"></div>']) {
      expect(focusKind(el(html)), html).toEqual({ typing: true, activates: false });
    }
  });
  it("buttons, checkboxes and the Position slider take Space only", () => {
    for (const html of ["<button>Pause</button>", '<input type="checkbox">', '<div role="slider" tabindex="0"></div>', '<a href="#">x</a>', '<input type="range">']) {
      expect(focusKind(el(html)), html).toEqual({ typing: false, activates: true });
    }
  });
  it("the page itself and the stream area take neither", () => {
    expect(focusKind(document.body)).toEqual({ typing: false, activates: false });
    expect(focusKind(el('<div tabindex="-1" data-stream-area></div>'))).toEqual({ typing: false, activates: false });
    expect(focusKind(null)).toEqual({ typing: false, activates: false });
  });
});
