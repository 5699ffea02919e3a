// The on-screen keyboard's input, for the holder on a phone or tablet: the room page focuses a
// hidden field (so the device shows its keyboard) and turns what is typed there into the
// existing input messages: text as the `text` op, Enter, Backspace and the other named keys as
// key presses. Pure: DOM event fields in, actions out.
//
// Characters come from `beforeinput` (a virtual keyboard's keydown often says only
// "Unidentified"), words a keyboard composes (suggestions, IMEs) at `compositionend`; the named
// keys from `keydown`, which keyboards do report, and which fire no `beforeinput` on an empty
// field (the hidden field always is: nothing typed stays in it).
import { encodeKey, encodeText } from "./inputEncoder";

export type KeyboardAction = { kind: "text"; text: string } | { kind: "key"; key: string; code: string };

/** Keys sent as key presses (their DOM `key` → `code`). */
const NAMED: Record<string, string> = {
  Enter: "Enter",
  Backspace: "Backspace",
  Delete: "Delete",
  Tab: "Tab",
  Escape: "Escape",
  ArrowLeft: "ArrowLeft",
  ArrowRight: "ArrowRight",
  ArrowUp: "ArrowUp",
  ArrowDown: "ArrowDown",
  Home: "Home",
  End: "End",
};

/** A keydown in the hidden field: a named key is sent (and the event should be cancelled). */
export function fromKeyDown(key: string, composing: boolean): KeyboardAction | null {
  if (composing) return null;
  const code = NAMED[key];
  return code ? { kind: "key", key, code } : null;
}

/** A beforeinput in the hidden field (cancelled by the caller): what it types in the room. */
export function fromBeforeInput(inputType: string, data: string | null, composing: boolean): KeyboardAction[] {
  if (composing || inputType.startsWith("insertComposition")) return []; // the word comes at compositionend
  switch (inputType) {
    case "insertText":
    case "insertReplacementText":
    case "insertFromPaste":
      return data ? [{ kind: "text", text: data }] : [];
    case "insertLineBreak":
    case "insertParagraph":
      return [{ kind: "key", key: "Enter", code: "Enter" }];
    case "deleteContentBackward":
      return [{ kind: "key", key: "Backspace", code: "Backspace" }];
    case "deleteContentForward":
      return [{ kind: "key", key: "Delete", code: "Delete" }];
    default:
      return [];
  }
}

/** A composed word (compositionend): typed as text. */
export function fromComposition(data: string | null): KeyboardAction[] {
  return data ? [{ kind: "text", text: data }] : [];
}

const NO_MODIFIERS = { shiftKey: false, ctrlKey: false, altKey: false, metaKey: false };

/** The `input` data channel's messages for an action: the text op, or a key's down and up. */
export function keyboardMessages(action: KeyboardAction): Uint8Array[] {
  if (action.kind === "text") return encodeText(action.text);
  const key = { key: action.key, code: action.code, ...NO_MODIFIERS };
  return [encodeKey(true, key), encodeKey(false, key)];
}

/** The room socket's fallback (`browser.keypress`, while the data channels are not open): one
 * key press per character of a text. */
export function keyboardFallback(action: KeyboardAction): { key: string; code: string; modifiers: string[] }[] {
  if (action.kind === "key") return [{ key: action.key, code: action.code, modifiers: [] }];
  return Array.from(action.text).map((ch) => ({ key: ch, code: "", modifiers: [] }));
}
