import { Loader2 } from "lucide-react";
import { errorText } from "../api/errors";
import { dayKey, formatDateTime, formatDay, formatTime } from "../lib/time";
import { QueryError } from "../components/QueryError";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { useRoomHistory } from "../queries/rooms";

/** A past room's chat, oldest at the top, older pages on demand. Text only: never parsed as HTML. */
export function ChatHistory({ code, id }: { code: string; id: string }) {
  const history = useRoomHistory(code);

  if (history.isPending) {
    return (
      <div id={id} role="status" className="flex items-center gap-2 px-4 py-3 text-sm text-zinc-400">
        <Loader2 className="size-4 animate-spin" aria-hidden /> Loading the chat…
      </div>
    );
  }
  const pages = history.data?.pages;
  if (pages === undefined) {
    return (
      <div id={id} className="px-4 py-3">
        <QueryError what="the chat" error={history.error} onRetry={() => void history.refetch()} />
      </div>
    );
  }
  // Pages arrive newest first; show them in reading order.
  const messages = pages.flatMap((p) => p.data).reverse();
  if (messages.length === 0) {
    return (
      <p id={id} className="px-4 py-3 text-sm text-zinc-500">
        Nobody wrote in this room’s chat.
      </p>
    );
  }
  return (
    <div id={id} className="px-4 py-3">
      {history.hasNextPage ? (
        <div className="mb-2 flex justify-center">
          <Button variant="ghost" size="sm" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
            {history.isFetchingNextPage ? <Loader2 className="animate-spin" aria-hidden /> : null}
            Load older messages
          </Button>
        </div>
      ) : null}
      {history.isFetchNextPageError ? <Alert className="mb-2">Could not load older messages: {errorText(history.error)}</Alert> : null}
      <ol className="max-h-80 space-y-1.5 overflow-y-auto pr-1" aria-label="Chat history">
        {messages.map((m, i) => {
          const day = dayKey(m.created_at);
          const prev = messages[i - 1];
          const newDay = prev === undefined || dayKey(prev.created_at) !== day;
          return (
            <li key={m.id} className="text-sm">
              {newDay ? (
                <div className="my-2 flex items-center gap-3 text-xs font-medium text-zinc-500 first:mt-0" role="presentation">
                  <span className="h-px flex-1 bg-zinc-800" />
                  {formatDay(m.created_at)}
                  <span className="h-px flex-1 bg-zinc-800" />
                </div>
              ) : null}
              <div className="grid grid-cols-[3.25rem_1fr] gap-x-3">
                <time dateTime={m.created_at} title={formatDateTime(m.created_at)} className="pt-0.5 text-xs whitespace-nowrap text-zinc-500 tabular-nums">
                  {formatTime(m.created_at)}
                </time>
                <p className="min-w-0 break-words whitespace-pre-wrap text-zinc-300">
                  <span className="font-semibold text-violet-300">{m.user.username}</span> {m.text}
                </p>
              </div>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
