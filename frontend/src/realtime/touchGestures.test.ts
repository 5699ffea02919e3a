import { describe, expect, it } from "vitest";
import { LONG_PRESS_MS, TAP_SLOP_PX, TouchGestures } from "./touchGestures";

describe("TouchGestures", () => {
  it("a tap is a left click where the finger went down", () => {
    const g = new TouchGestures();
    expect(g.down(1, 100, 200, 0)).toEqual([]);
    expect(g.move(1, 103, 198)).toEqual([]); // a finger wobbles: still a tap
    expect(g.active).toBe(true);
    expect(g.up(1, 120)).toEqual([{ kind: "click", button: 1, x: 100, y: 200 }]);
    expect(g.active).toBe(false);
  });

  it("a long press is the right button", () => {
    const g = new TouchGestures();
    g.down(1, 50, 60, 1_000);
    expect(g.up(1, 1_000 + LONG_PRESS_MS)).toEqual([{ kind: "click", button: 3, x: 50, y: 60 }]);
  });

  it("a drag scrolls the page under the finger, from where it went down, and never clicks", () => {
    const g = new TouchGestures();
    g.down(1, 200, 400, 0);
    // Up by more than the slop: the page scrolls down by as much (the slop included).
    expect(g.move(1, 200, 400 - TAP_SLOP_PX - 5)).toEqual([{ kind: "wheel", dx: 0, dy: TAP_SLOP_PX + 5, x: 200, y: 385 }]);
    expect(g.move(1, 210, 300)).toEqual([{ kind: "wheel", dx: -10, dy: 85, x: 210, y: 300 }]);
    expect(g.move(1, 210, 300)).toEqual([]); // no movement, nothing to send
    expect(g.up(1, 5_000)).toEqual([]);
  });

  it("scales a drag to the stream's pixels", () => {
    const g = new TouchGestures();
    g.down(1, 0, 100, 0);
    // A 390 px wide phone showing a 1280 px wide stream: one finger pixel is ~3.3 page pixels.
    const scale = 1280 / 390;
    const [wheel] = g.move(1, 0, 40, scale);
    expect(wheel).toMatchObject({ kind: "wheel", dx: 0 });
    expect(wheel?.kind === "wheel" && wheel.dy).toBeCloseTo(60 * scale, 9);
  });

  it("a second finger makes it a scroll: no click when the fingers lift, the first one scrolls", () => {
    const g = new TouchGestures();
    g.down(1, 100, 100, 0);
    g.down(2, 200, 100, 10);
    expect(g.move(2, 200, 50)).toEqual([]); // only the lead finger drives the scroll
    expect(g.move(1, 100, 60)).toEqual([{ kind: "wheel", dx: 0, dy: 40, x: 100, y: 60 }]);
    expect(g.up(2, 50)).toEqual([]);
    expect(g.up(1, 60)).toEqual([]);
    // and the next single tap clicks again
    g.down(3, 10, 10, 100);
    expect(g.up(3, 150)).toEqual([{ kind: "click", button: 1, x: 10, y: 10 }]);
  });

  it("when the lead finger lifts, the other one scrolls on", () => {
    const g = new TouchGestures();
    g.down(1, 100, 100, 0);
    g.down(2, 200, 100, 10);
    g.up(1, 20);
    expect(g.move(2, 200, 90)).toEqual([{ kind: "wheel", dx: 0, dy: 10, x: 200, y: 90 }]);
  });

  it("a cancelled touch sends nothing, and unknown fingers are ignored", () => {
    const g = new TouchGestures();
    g.down(1, 100, 100, 0);
    expect(g.cancel(1)).toEqual([]);
    expect(g.up(1, 50)).toEqual([]);
    expect(g.move(9, 1, 1)).toEqual([]);
    expect(g.cancel(9)).toEqual([]);
    expect(g.active).toBe(false);
  });
});
