import { describe, expect, it } from "vitest";
import { Op } from "./inputEncoder";
import { fromBeforeInput, fromComposition, fromKeyDown, keyboardFallback, keyboardMessages } from "./softKeyboard";

const utf8 = new TextDecoder();

describe("the on-screen keyboard's input", () => {
  it("characters typed are text; Enter and Backspace are key presses", () => {
    expect(fromBeforeInput("insertText", "h", false)).toEqual([{ kind: "text", text: "h" }]);
    expect(fromBeforeInput("insertText", "é", false)).toEqual([{ kind: "text", text: "é" }]);
    expect(fromBeforeInput("insertReplacementText", "hello", false)).toEqual([{ kind: "text", text: "hello" }]);
    expect(fromBeforeInput("insertLineBreak", null, false)).toEqual([{ kind: "key", key: "Enter", code: "Enter" }]);
    expect(fromBeforeInput("insertParagraph", null, false)).toEqual([{ kind: "key", key: "Enter", code: "Enter" }]);
    expect(fromBeforeInput("deleteContentBackward", null, false)).toEqual([{ kind: "key", key: "Backspace", code: "Backspace" }]);
    expect(fromBeforeInput("deleteContentForward", null, false)).toEqual([{ kind: "key", key: "Delete", code: "Delete" }]);
    expect(fromBeforeInput("insertText", "", false)).toEqual([]);
    expect(fromBeforeInput("formatBold", null, false)).toEqual([]);
  });

  it("a composed word is typed once, when the keyboard commits it", () => {
    expect(fromBeforeInput("insertCompositionText", "hel", true)).toEqual([]);
    expect(fromBeforeInput("insertText", "x", true)).toEqual([]);
    expect(fromComposition("hello")).toEqual([{ kind: "text", text: "hello" }]);
    expect(fromComposition("")).toEqual([]);
    expect(fromComposition(null)).toEqual([]);
  });

  it("named keys from keydown (an empty field fires no beforeinput for Backspace)", () => {
    expect(fromKeyDown("Backspace", false)).toEqual({ kind: "key", key: "Backspace", code: "Backspace" });
    expect(fromKeyDown("Enter", false)).toEqual({ kind: "key", key: "Enter", code: "Enter" });
    expect(fromKeyDown("ArrowLeft", false)).toEqual({ kind: "key", key: "ArrowLeft", code: "ArrowLeft" });
    expect(fromKeyDown("a", false)).toBeNull(); // characters come from beforeinput
    expect(fromKeyDown("Unidentified", false)).toBeNull(); // what virtual keyboards often say
    expect(fromKeyDown("Enter", true)).toBeNull(); // Enter that commits a composition
  });

  it("text goes as the text op, a key as its down and up", () => {
    const [text] = keyboardMessages({ kind: "text", text: "hi" });
    expect(text?.[0]).toBe(Op.text);
    expect(utf8.decode(text?.slice(1))).toBe("hi");
    const [down, up] = keyboardMessages({ kind: "key", key: "Enter", code: "Enter" });
    expect([down?.[0], up?.[0]]).toEqual([Op.keyDown, Op.keyUp]);
    expect(down?.[1]).toBe(0); // no modifiers
    expect(utf8.decode(down?.slice(3, 3 + (down?.[2] ?? 0)))).toBe("Enter");
  });

  it("without data channels: one keypress per character, or the key", () => {
    expect(keyboardFallback({ kind: "text", text: "hé" })).toEqual([
      { key: "h", code: "", modifiers: [] },
      { key: "é", code: "", modifiers: [] },
    ]);
    expect(keyboardFallback({ kind: "key", key: "Backspace", code: "Backspace" })).toEqual([{ key: "Backspace", code: "Backspace", modifiers: [] }]);
  });
});
