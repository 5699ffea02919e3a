import { describe, expect, it } from "vitest";
import { PointerBoard, PointerSender, ReactionFeed, type Clock } from "./ephemeral";

/** A clock the test moves by hand; its timers fire as it passes them. */
class ManualClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

const reaction = (id: string, emoji = "👍") => ({ id, user_id: "u1", username: "ana", emoji });

describe("ReactionFeed", () => {
  it("shows each reaction for its time, then drops it by itself", () => {
    const clock = new ManualClock();
    const feed = new ReactionFeed(clock, 3_000);
    let changes = 0;
    feed.subscribe(() => changes++);
    feed.add(reaction("r1"));
    clock.advance(1_000);
    feed.add(reaction("r2", "😂"));
    expect(feed.snapshot().map((r) => r.id)).toEqual(["r1", "r2"]);
    clock.advance(2_000);
    expect(feed.snapshot().map((r) => r.id)).toEqual(["r2"]);
    clock.advance(1_000);
    expect(feed.snapshot()).toEqual([]);
    expect(changes).toBe(4);
  });
  it("keeps the snapshot the same object while nothing changes, and ignores a repeated id", () => {
    const clock = new ManualClock();
    const feed = new ReactionFeed(clock);
    feed.add(reaction("r1"));
    const before = feed.snapshot();
    feed.add(reaction("r1"));
    expect(feed.snapshot()).toBe(before);
  });
  it("shows at most its maximum at once, the newest", () => {
    const feed = new ReactionFeed(new ManualClock(), 3_000, 3);
    for (const id of ["a", "b", "c", "d"]) feed.add(reaction(id));
    expect(feed.snapshot().map((r) => r.id)).toEqual(["b", "c", "d"]);
  });
});

describe("PointerBoard", () => {
  it("keeps one pointer per member, the latest, gone a moment after its last move", () => {
    const clock = new ManualClock();
    const board = new PointerBoard(clock, 2_000);
    board.show({ user_id: "u1", username: "ana", x: 0.1, y: 0.2 });
    board.show({ user_id: "u2", username: "ben", x: 0.5, y: 0.5 });
    clock.advance(1_500);
    board.show({ user_id: "u1", username: "ana", x: 0.3, y: 1.7 });
    expect(board.snapshot().map((p) => [p.username, p.x, p.y])).toEqual([
      ["ben", 0.5, 0.5],
      ["ana", 0.3, 1],
    ]);
    clock.advance(600);
    expect(board.snapshot().map((p) => p.username)).toEqual(["ana"]);
    clock.advance(1_500);
    expect(board.snapshot()).toEqual([]);
  });
});

describe("PointerSender", () => {
  it("sends the first point at once, then at most one per interval, the latest winning", () => {
    const clock = new ManualClock();
    const sent: [number, number][] = [];
    const sender = new PointerSender((x, y) => sent.push([x, y]), clock, 100);
    sender.point(0.1, 0.1);
    clock.advance(20);
    sender.point(0.2, 0.2);
    clock.advance(20);
    sender.point(0.3, 0.3);
    expect(sent).toEqual([[0.1, 0.1]]);
    clock.advance(60);
    expect(sent).toEqual([
      [0.1, 0.1],
      [0.3, 0.3],
    ]);
    // Moves over 1 s leave at most 10 (+ the first).
    for (let i = 0; i < 100; i++) {
      sender.point(i / 100, 0.5);
      clock.advance(10);
    }
    expect(sent.length).toBeLessThanOrEqual(2 + 10);
    sender.stop();
  });
  it("sends nothing after stop", () => {
    const clock = new ManualClock();
    const sent: unknown[] = [];
    const sender = new PointerSender((x, y) => sent.push([x, y]), clock, 100);
    sender.point(0.1, 0.1);
    sender.point(0.2, 0.2);
    sender.stop();
    clock.advance(500);
    expect(sent).toHaveLength(1);
  });
});
