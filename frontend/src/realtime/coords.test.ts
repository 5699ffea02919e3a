import { describe, expect, it } from "vitest";
import { contentBox, fromStreamFraction, toStreamFraction } from "./coords";
import { modifierNames, wheelPixels } from "./inputController";

describe("contentBox", () => {
  it("wide element: the picture is centred with bars left and right", () => {
    // 1000×400 element showing 1280×720 → height-bound: 711.1×400
    const box = contentBox(1000, 400, 1280, 720);
    expect(box.top).toBe(0);
    expect(box.height).toBe(400);
    expect(box.width).toBeCloseTo(400 * (1280 / 720), 9);
    expect(box.left).toBeCloseTo((1000 - box.width) / 2, 9);
    expect(box.left).toBeGreaterThan(0);
  });
  it("tall element: bars top and bottom", () => {
    const box = contentBox(640, 720, 1280, 720);
    expect(box).toEqual({ left: 0, top: (720 - 360) / 2, width: 640, height: 360 });
  });
  it("exact fit: no bars", () => {
    expect(contentBox(1280, 720, 1920, 1080)).toEqual({ left: 0, top: 0, width: 1280, height: 720 });
  });
  it("without video dimensions yet: the whole element", () => {
    expect(contentBox(800, 600, 0, 0)).toEqual({ left: 0, top: 0, width: 800, height: 600 });
  });
});

describe("toStreamFraction", () => {
  const wide = contentBox(1000, 400, 800, 400); // picture 800×400 at left 100
  const tall = contentBox(400, 600, 400, 200); // picture 400×200 at top 200

  it("maps the picture's corners and centre to 0..1", () => {
    expect(toStreamFraction(100, 0, wide)).toEqual({ x: 0, y: 0 });
    expect(toStreamFraction(900, 400, wide)).toEqual({ x: 1, y: 1 });
    expect(toStreamFraction(500, 200, wide)).toEqual({ x: 0.5, y: 0.5 });
    expect(toStreamFraction(100, 300, tall)).toEqual({ x: 0.25, y: 0.5 });
  });
  it("points on the letterbox bars are null", () => {
    expect(toStreamFraction(50, 200, wide)).toBeNull(); // left bar
    expect(toStreamFraction(950, 200, wide)).toBeNull(); // right bar
    expect(toStreamFraction(200, 100, tall)).toBeNull(); // top bar
    expect(toStreamFraction(200, 500, tall)).toBeNull(); // bottom bar
  });
  it("clamp mode pins points outside to the nearest edge", () => {
    expect(toStreamFraction(50, 200, wide, true)).toEqual({ x: 0, y: 0.5 });
    expect(toStreamFraction(950, -20, wide, true)).toEqual({ x: 1, y: 0 });
    expect(toStreamFraction(200, 500, tall, true)).toEqual({ x: 0.5, y: 1 });
  });
  it("an empty box gives null even when clamping", () => {
    expect(toStreamFraction(1, 1, { left: 0, top: 0, width: 0, height: 10 }, true)).toBeNull();
  });
  it("round trips with fromStreamFraction", () => {
    for (const box of [wide, tall, contentBox(1000, 400, 1280, 720)]) {
      for (const [fx, fy] of [
        [0, 0],
        [1, 1],
        [0.3, 0.7],
        [0.999, 0.001],
      ] as const) {
        const p = fromStreamFraction(fx, fy, box);
        const back = toStreamFraction(p.x, p.y, box);
        expect(back?.x).toBeCloseTo(fx, 9);
        expect(back?.y).toBeCloseTo(fy, 9);
      }
    }
  });
});

describe("inputController helpers", () => {
  it("wheelPixels: pixels as-is, lines × 40 px, pages × the page size", () => {
    expect(wheelPixels(-53, 0, 600)).toBe(-53);
    expect(wheelPixels(3, 1, 600)).toBe(120);
    expect(wheelPixels(-1, 2, 600)).toBe(-600);
  });
  it("modifierNames lists the held modifiers as the fallback's names", () => {
    const ev = (m: Partial<Pick<KeyboardEvent, "ctrlKey" | "shiftKey" | "altKey" | "metaKey">>) =>
      ({ ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...m }) as KeyboardEvent;
    expect(modifierNames(ev({}))).toEqual([]);
    expect(modifierNames(ev({ ctrlKey: true }))).toEqual(["ctrl"]);
    expect(modifierNames(ev({ ctrlKey: true, shiftKey: true, altKey: true, metaKey: true }))).toEqual(["ctrl", "shift", "alt", "meta"]);
    expect(modifierNames(ev({ metaKey: true, shiftKey: true }))).toEqual(["shift", "meta"]);
  });
});
