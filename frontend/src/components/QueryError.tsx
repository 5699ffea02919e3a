import { RotateCw } from "lucide-react";
import { errorText } from "../api/errors";
import { sentence } from "../lib/formErrors";
import { Button } from "./ui/button";

/** A failed load in words, with a way to try again. */
export function QueryError({ what, error, onRetry, className }: { what: string; error: unknown; onRetry: () => void; className?: string }) {
  return (
    <div role="alert" className={`flex flex-wrap items-center gap-3 rounded-md border border-red-500/40 bg-red-500/10 px-3 py-2 text-sm text-red-200 ${className ?? ""}`}>
      <span className="min-w-0 flex-1">
        Could not load {what}. {sentence(errorText(error))}
      </span>
      <Button variant="outline" size="sm" onClick={onRetry} className="border-red-400/40 text-red-100 hover:bg-red-500/20">
        <RotateCw aria-hidden /> Try again
      </Button>
    </div>
  );
}
