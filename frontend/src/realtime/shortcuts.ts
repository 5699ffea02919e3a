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
  /** The focus is in something that takes typing or its own Space (field, button, slider...). */
  editable: boolean;
  /** The focus is on the stream area while you hold the remote: keys drive the room. */
  driving: boolean;
}

/** The key you hold to point at the picture without the remote. */
export const POINT_KEY = "p";

export function roomShortcut(e: KeyInfo, focus: FocusInfo): RoomShortcut | null {
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  // Letting go of P always ends pointing, wherever the focus went meanwhile.
  if (e.type === "keyup") return key === POINT_KEY ? "point_end" : null;
  if (e.ctrlKey || e.altKey || e.metaKey || focus.driving || focus.editable) return null;
  if (key === POINT_KEY) return e.repeat ? null : "point_start";
  if (e.repeat) return null;
  if (key === " ") return "toggle_play";
  if (key === "f") return "fullscreen";
  return null;
}

const TYPING_ROLES = new Set(["textbox", "searchbox", "combobox", "slider", "spinbutton", "button", "checkbox", "switch", "menuitem", "option", "link"]);

/** Whether the element takes keys of its own (Space on a button presses it, a slider moves). */
export function isEditable(el: Element | null): boolean {
  if (!el) return false;
  const tag = el.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "BUTTON" || tag === "A") return true;
  if ((el as HTMLElement).isContentEditable) return true;
  const role = el.getAttribute("role");
  return role !== null && TYPING_ROLES.has(role);
}
