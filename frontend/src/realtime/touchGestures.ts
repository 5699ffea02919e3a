// Touch over the stream, for the holder on a phone or tablet: a tap clicks, a drag scrolls the
// room's page under the finger (wheel), a long press is the right button, and a second finger
// turns the gesture into a scroll (never a click). Pure: touch points in, actions out; the input
// controller (inputController.ts) turns the actions into the data channel's messages.
//
// Coordinates are the element's CSS pixels (the caller maps an action's point to the stream);
// `scale` is stream pixels per element pixel, so a drag moves the room's page as far as the
// finger moved over its picture.

/** Farther than this from where it went down, a finger is dragging, not tapping. */
export const TAP_SLOP_PX = 10;
/** A finger held at least this long without dragging is a long press: the right button. */
export const LONG_PRESS_MS = 500;

export type TouchAction =
  | { kind: "click"; button: 1 | 3; x: number; y: number }
  | { kind: "wheel"; dx: number; dy: number; x: number; y: number };

interface Finger {
  x0: number;
  y0: number;
  x: number;
  y: number;
  t0: number;
}

type Mode = "idle" | "pending" | "scroll";

export class TouchGestures {
  private fingers = new Map<number, Finger>();
  private mode: Mode = "idle";
  /** The finger whose movement scrolls (the first one down). */
  private lead: number | null = null;

  /** Whether a gesture is under way (a finger is down). */
  get active(): boolean {
    return this.fingers.size > 0;
  }

  down(id: number, x: number, y: number, t: number): TouchAction[] {
    this.fingers.set(id, { x0: x, y0: y, x, y, t0: t });
    if (this.fingers.size === 1) {
      this.mode = "pending";
      this.lead = id;
    } else {
      this.mode = "scroll"; // a second finger: two-finger scrolling, and no click at the end
    }
    return [];
  }

  move(id: number, x: number, y: number, scale = 1): TouchAction[] {
    const f = this.fingers.get(id);
    if (!f) return [];
    const { x: lastX, y: lastY } = f;
    f.x = x;
    f.y = y;
    if (this.mode === "pending" && Math.hypot(x - f.x0, y - f.y0) > TAP_SLOP_PX) {
      this.mode = "scroll";
      // The page follows the finger from where it went down, the slop included.
      return [wheel(f.x0, f.y0, x, y, scale)];
    }
    if (this.mode !== "scroll" || id !== this.lead || (x === lastX && y === lastY)) return [];
    return [wheel(lastX, lastY, x, y, scale)];
  }

  up(id: number, t: number): TouchAction[] {
    const f = this.fingers.get(id);
    if (!f) return [];
    this.fingers.delete(id);
    let out: TouchAction[] = [];
    if (this.mode === "pending" && this.fingers.size === 0) {
      const button = t - f.t0 >= LONG_PRESS_MS ? 3 : 1;
      out = [{ kind: "click", button, x: f.x0, y: f.y0 }];
    }
    this.settle(id);
    return out;
  }

  /** The browser took the touch away (pointercancel): nothing is sent for it. */
  cancel(id: number): TouchAction[] {
    if (!this.fingers.delete(id)) return [];
    if (this.mode === "pending") this.mode = "scroll"; // no click from a cancelled tap
    this.settle(id);
    return [];
  }

  private settle(id: number): void {
    if (this.fingers.size === 0) {
      this.mode = "idle";
      this.lead = null;
    } else if (id === this.lead) {
      this.lead = this.fingers.keys().next().value ?? null;
    }
  }
}

function wheel(fromX: number, fromY: number, x: number, y: number, scale: number): TouchAction {
  // Finger up = the page's content moves up = scrolling down (a positive deltaY).
  return { kind: "wheel", dx: (fromX - x) * scale, dy: (fromY - y) * scale, x, y };
}
