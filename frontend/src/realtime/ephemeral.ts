// What the room shows only for a moment: reactions over the stream and members' pointers on the
// picture. Plain TypeScript with a subscribe/snapshot pair for React's useSyncExternalStore; the
// clock and the timers are injectable so tests run without waiting.
//
// Contract: a snapshot is a new array whenever (and only when) its content changed, so React
// re-renders on change alone; every entry leaves by itself after its time (no caller cleans up).
import type { PointerMark, Reaction } from "./protocol";

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

abstract class Board<T> {
  protected items: T[] = [];
  private listeners = new Set<() => void>();
  private timer: unknown = null;

  constructor(protected readonly clock: Clock) {}

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  snapshot = (): readonly T[] => this.items;

  clear(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.items.length === 0) return;
    this.items = [];
    this.emit();
  }

  protected abstract expiresAt(item: T): number;

  protected set(items: T[]): void {
    this.items = items;
    this.emit();
    this.schedule();
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** One timer, for the next entry to leave. */
  private schedule(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.items.length === 0) return;
    const next = Math.min(...this.items.map((i) => this.expiresAt(i)));
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const now = this.clock.now();
      const left = this.items.filter((i) => this.expiresAt(i) > now);
      if (left.length !== this.items.length) this.set(left);
      else this.schedule();
    }, Math.max(0, next - this.clock.now()));
  }
}

export interface ShownReaction extends Reaction {
  until: number;
}

/** Reactions shown over the stream, newest last, each for `ttlMs`, at most `max` at once. */
export class ReactionFeed extends Board<ShownReaction> {
  constructor(
    clock: Clock = realClock,
    readonly ttlMs = 3_000,
    readonly max = 12,
  ) {
    super(clock);
  }

  add(r: Reaction): void {
    if (this.items.some((i) => i.id === r.id)) return;
    this.set([...this.items, { ...r, until: this.clock.now() + this.ttlMs }].slice(-this.max));
  }

  protected expiresAt(item: ShownReaction): number {
    return item.until;
  }
}

export interface ShownPointer extends PointerMark {
  until: number;
}

/** Members' pointers on the picture: the latest per member, each gone `ttlMs` after its last move. */
export class PointerBoard extends Board<ShownPointer> {
  constructor(
    clock: Clock = realClock,
    readonly ttlMs = 2_500,
  ) {
    super(clock);
  }

  show(p: PointerMark): void {
    const x = Math.min(1, Math.max(0, p.x));
    const y = Math.min(1, Math.max(0, p.y));
    const entry = { ...p, x, y, until: this.clock.now() + this.ttlMs };
    this.set([...this.items.filter((i) => i.user_id !== p.user_id), entry]);
  }

  protected expiresAt(item: ShownPointer): number {
    return item.until;
  }
}

/**
 * Sends `pointer.show` at most once per `intervalMs` (the server relays ≤ 10 a second per
 * socket): the first point goes at once, later ones within the interval wait for its end and
 * the latest wins.
 */
export class PointerSender {
  private last = -Infinity;
  private pending: { x: number; y: number } | null = null;
  private timer: unknown = null;

  constructor(
    private readonly send: (x: number, y: number) => void,
    private readonly clock: Clock = realClock,
    readonly intervalMs = 100,
  ) {}

  point(x: number, y: number): void {
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait <= 0 && this.timer === null) {
      this.last = this.clock.now();
      this.send(x, y);
      return;
    }
    this.pending = { x, y };
    if (this.timer !== null) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      this.last = this.clock.now();
      this.send(p.x, p.y);
    }, Math.max(0, wait));
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }
}
