import { useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import { cn } from "../lib/cn";
import { formatClock, seekTarget } from "../realtime/mediaClock";

interface Props {
  /** Seconds shown now. */
  value: number;
  /** Seconds; null = live (nothing to seek). */
  duration: number | null;
  disabled: boolean;
  onSeek: (seconds: number) => void;
}

/**
 * The media's position as an ARIA slider named "Position" (aria-valuenow = the current second,
 * aria-valuemax = the duration): ArrowRight/ArrowLeft ±5 s, PageUp/PageDown ±30 s, Home the
 * start, End the end; a click or a drag seeks where it lets go.
 */
export function PositionSlider({ value, duration, disabled, onSeek }: Props) {
  const track = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<number | null>(null);
  const live = duration === null;
  const max = live ? Math.max(0, value) : Math.max(0, duration);
  const shown = Math.min(max, drag ?? value);
  const pct = max > 0 ? (shown / max) * 100 : 0;

  const at = (e: PointerEvent<HTMLDivElement>): number | null => {
    const r = track.current?.getBoundingClientRect();
    if (!r || r.width <= 0 || live) return null;
    return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)) * max;
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (disabled) return;
    const t = seekTarget(e.key, shown, duration);
    if (t === null) return;
    e.preventDefault();
    onSeek(t);
  };
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (disabled || e.button !== 0) return;
    const t = at(e);
    if (t === null) return;
    e.currentTarget.setPointerCapture?.(e.pointerId);
    setDrag(t);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    if (drag === null) return;
    const t = at(e);
    if (t !== null) setDrag(t);
  };
  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    if (drag === null) return;
    const t = at(e) ?? drag;
    setDrag(null);
    onSeek(t);
  };

  return (
    <div
      role="slider"
      aria-label="Position"
      aria-valuemin={0}
      aria-valuemax={Math.floor(max)}
      aria-valuenow={Math.floor(shown)}
      aria-valuetext={live ? `Live, ${formatClock(shown)}` : `${formatClock(shown)} of ${formatClock(max)}`}
      aria-disabled={disabled || live ? true : undefined}
      tabIndex={disabled || live ? -1 : 0}
      onKeyDown={onKeyDown}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={() => setDrag(null)}
      className={cn(
        "group relative flex h-6 min-w-24 flex-1 touch-none items-center rounded outline-none focus-visible:ring-2 focus-visible:ring-violet-400",
        disabled || live ? "cursor-not-allowed opacity-50" : "cursor-pointer",
      )}
    >
      <div ref={track} className="relative h-1.5 w-full rounded-full bg-zinc-700 group-hover:h-2">
        <div className="absolute inset-y-0 left-0 rounded-full bg-violet-500" style={{ width: `${pct}%` }} />
        {live ? null : (
          <div className="absolute top-1/2 size-3.5 -translate-x-1/2 -translate-y-1/2 rounded-full bg-white shadow ring-2 ring-violet-500" style={{ left: `${pct}%` }} />
        )}
      </div>
    </div>
  );
}
