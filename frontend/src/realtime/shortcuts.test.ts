import { describe, expect, it } from "vitest";
import { roomShortcut, type FocusInfo, type KeyInfo } from "./shortcuts";

const down = (key: string, over: Partial<KeyInfo> = {}): KeyInfo => ({ key, type: "keydown", repeat: false, ctrlKey: false, altKey: false, metaKey: false, ...over });
const free: FocusInfo = { editable: false, driving: false };

describe("roomShortcut", () => {
  it("Space plays or pauses, F toggles fullscreen, P points while held", () => {
    expect(roomShortcut(down(" "), free)).toBe("toggle_play");
    expect(roomShortcut(down("f"), free)).toBe("fullscreen");
    expect(roomShortcut(down("F"), free)).toBe("fullscreen");
    expect(roomShortcut(down("p"), free)).toBe("point_start");
    expect(roomShortcut(down("p", { type: "keyup" }), free)).toBe("point_end");
  });
  it("leaves keys that drive the shared browser to it", () => {
    expect(roomShortcut(down(" "), { editable: false, driving: true })).toBeNull();
    expect(roomShortcut(down("f"), { editable: false, driving: true })).toBeNull();
  });
  it("leaves typing in fields, buttons and sliders alone", () => {
    expect(roomShortcut(down(" "), { editable: true, driving: false })).toBeNull();
    expect(roomShortcut(down("f"), { editable: true, driving: false })).toBeNull();
    expect(roomShortcut(down("p"), { editable: true, driving: false })).toBeNull();
  });
  it("leaves the tab's and the system's shortcuts alone, and ignores auto-repeat", () => {
    expect(roomShortcut(down("f", { ctrlKey: true }), free)).toBeNull();
    expect(roomShortcut(down("f", { metaKey: true }), free)).toBeNull();
    expect(roomShortcut(down(" ", { altKey: true }), free)).toBeNull();
    expect(roomShortcut(down(" ", { repeat: true }), free)).toBeNull();
    expect(roomShortcut(down("p", { repeat: true }), free)).toBeNull();
  });
  it("ends pointing when P is let go wherever the focus went", () => {
    expect(roomShortcut(down("p", { type: "keyup" }), { editable: true, driving: true })).toBe("point_end");
    expect(roomShortcut(down("f", { type: "keyup" }), free)).toBeNull();
  });
});
