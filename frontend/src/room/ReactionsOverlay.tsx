import { useReactions } from "../hooks/useTogether";
import type { RoomClient } from "../realtime/roomClient";

/** Everyone's reactions over the stream for a moment, with the sender's name. */
export function ReactionsOverlay({ client }: { client: RoomClient | null }) {
  const reactions = useReactions(client);
  return (
    <div role="log" aria-label="Reactions" aria-live="polite" className="pointer-events-none absolute bottom-3 right-3 flex flex-col items-end justify-end gap-1.5">
      {reactions.map((r) => (
        <div key={r.id} className="wp-reaction flex items-center gap-1.5 rounded-full bg-black/55 py-0.5 pl-1 pr-2.5 shadow-lg backdrop-blur-sm">
          <span className="text-3xl leading-none" aria-hidden>
            {r.emoji}
          </span>
          <span className="text-xs font-medium text-zinc-100">
            <span className="sr-only">{r.emoji} from </span>
            {r.username}
          </span>
        </div>
      ))}
    </div>
  );
}
