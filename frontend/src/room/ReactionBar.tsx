import { MousePointer2 } from "lucide-react";
import { Button } from "../components/ui/button";
import { cn } from "../lib/cn";
import { REACTION_EMOJI } from "../realtime/protocol";
import type { RoomClient } from "../realtime/roomClient";
import { POINT_KEY } from "../realtime/shortcuts";
import { useRecentError } from "../hooks/useTogether";

interface Props {
  client: RoomClient | null;
  pointing: boolean;
  onPointing: (on: boolean) => void;
}

/** The five reactions anyone can send, and the "Point" toggle (or hold P) to point at the picture. */
export function ReactionBar({ client, pointing, onPointing }: Props) {
  const slowDown = useRecentError("reaction.send", 3_000)?.code === "rate_limited";

  return (
    <div className="flex shrink-0 items-center gap-0.5" role="group" aria-label="React and point">
      {REACTION_EMOJI.map((e) => (
        <button
          key={e}
          type="button"
          aria-label={`React ${e}`}
          title={slowDown ? "Too many reactions: wait a moment" : `React ${e} for everyone`}
          disabled={!client}
          onClick={() => client?.react(e)}
          className="grid size-7 place-items-center rounded-md text-base leading-none transition hover:scale-110 hover:bg-zinc-800 active:scale-95 disabled:opacity-45"
        >
          {e}
        </button>
      ))}
      {slowDown ? (
        <span role="status" className="px-1 text-xs text-amber-300">
          Slow down
        </span>
      ) : null}
      <Button
        variant="ghost"
        size="sm"
        aria-label="Point"
        aria-pressed={pointing}
        title={`Point at the picture for everyone (or hold ${POINT_KEY.toUpperCase()})`}
        onClick={() => onPointing(!pointing)}
        className={cn("ml-1 h-7 px-2", pointing && "bg-violet-600/30 text-violet-100 hover:bg-violet-600/40")}
      >
        <MousePointer2 aria-hidden />
        <span className="hidden sm:inline">Point</span>
      </Button>
    </div>
  );
}
