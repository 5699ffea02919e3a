import { Check, Loader2 } from "lucide-react";
import type { RoomStage } from "../realtime/protocol";
import { cn } from "../lib/cn";
import { STAGES, stageIndex } from "./words";

/** Start-up progress by stage instead of a blank spinner. */
export function StageProgress({ stage }: { stage: RoomStage | null }) {
  const current = stageIndex(stage);
  return (
    <div className="w-[min(24rem,90%)] rounded-xl border border-zinc-800 bg-zinc-900/90 p-5" role="status" aria-live="polite">
      <p className="mb-3 font-medium text-zinc-100">Starting the room’s browser…</p>
      <ol className="space-y-2">
        {STAGES.map((s, i) => (
          <li key={s.stage} className={cn("flex items-center gap-2 text-sm", i < current ? "text-emerald-300" : i === current ? "text-zinc-100" : "text-zinc-500")}>
            {i < current ? (
              <Check className="size-4" aria-hidden />
            ) : i === current ? (
              <Loader2 className="size-4 animate-spin" aria-hidden />
            ) : (
              <span className="inline-block size-4 rounded-full border border-zinc-600" aria-hidden />
            )}
            {s.label}
            {i === current ? <span className="sr-only"> (in progress)</span> : null}
          </li>
        ))}
      </ol>
    </div>
  );
}
