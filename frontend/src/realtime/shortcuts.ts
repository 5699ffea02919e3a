// The room page's own keys, decided from a key event and where the focus is. Pure.
//
// Contract: a key typed into a field, or sent to the shared browser (the stream area has the
// focus and you hold the remote: the input controller takes it and stops it there), is never a
// shortcut; nor is one with Ctrl, Alt or Meta (the tab's and the system's own shortcuts).

export type RoomShortcut = "toggle_play" | "fullscreen" | "point_start" | "point_end";

export interface KeyInfo {
  key: string;
  type: "keydown" | "keyup";
  repeat: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

export interface FocusInfo {
  /** The focus is where typing goes (a field, a select, an editable element). */
  typing: boolean;
  /** The focus is on a control Space works itself (a button, checkbox, slider, link...). */
  activates: boolean;
  /** The focus is on the stream area while you hold the remote: keys drive the room. */
  driving: boolean;
}

/** The key you hold to point at the picture without the remote. */
export const POINT_KEY = "p";

export function roomShortcut(e: KeyInfo, focus: FocusInfo): RoomShortcut | null {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  // Letting go of P always ends pointing, wherever the focus went meanwhile.
  if (e.type === "keyup") return key === POINT_KEY ? "point_end" : null;
  if (e.ctrlKey || e.altKey || e.metaKey || focus.driving || focus.typing) return null;
  if (key === POINT_KEY) return e.repeat ? null : "point_start";
  if (e.repeat) return null;
  if (key === " ") return focus.activates ? null : "toggle_play";
  if (key === "f") return "fullscreen";
  return null;
}

const TYPING_ROLES = new Set(["textbox", "searchbox", "combobox", "spinbutton"]);
const ACTIVATING_ROLES = new Set(["button", "checkbox", "switch", "slider", "menuitem", "option", "link", "tab", "radio"]);

/** Where the focus is, for `roomShortcut`: whether it takes typing, or Space of its own. */
export function focusKind(el: Element | null): Pick<FocusInfo, "typing" | "activates"> {
  if (!el) return { typing: false, activates: false };
  const tag = el.tagName;
  const role = el.getAttribute("role");
  const input = tag === "INPUT" ? (el as HTMLInputElement).type : null;
  const activatingInput = input !== null && ["button", "submit", "reset", "checkbox", "radio", "range", "file", "color"].includes(input);
  const typing = (tag === "INPUT" && !activatingInput) || tag === "TEXTAREA" || tag === "SELECT" || (el as HTMLElement).isContentEditable || (role !== null && TYPING_ROLES.has(role));
  const activates = activatingInput || tag === "BUTTON" || tag === "A" || tag === "SUMMARY" || (role !== null && ACTIVATING_ROLES.has(role));
  return { typing, activates };
}
