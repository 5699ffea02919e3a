import { ArrowDown, ArrowUp, ListVideo, Plus, X } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Button } from "../components/ui/button";
import { Input } from "../components/ui/input";
import { useRoomSettings } from "../hooks/useRoomSettings";
import { useRecentError } from "../hooks/useTogether";
import { normaliseStartUrl } from "../lib/startUrl";
import { relativeTime } from "../lib/time";
import { mayAddToQueue } from "../realtime/mediaClock";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";

/** The server's refusals in words, by message and code (docs/protocol.md, "Watching together"). */
const QUEUE_ERRORS: Record<string, string> = {
  "queue.add not_allowed": "Only the host and the holder of the remote can add to the queue now.",
  "queue.add queue_full": "The queue is full: remove something first.",
  "queue.add url_not_allowed": "The room cannot open that address.",
  "queue.remove not_allowed": "Only the host or whoever added it can remove that.",
  "queue.move not_allowed": "Only the host can reorder the queue.",
};

/** "Up next": addresses the room's browser opens, in order, each time the playing media ends. */
export function QueuePanel({ client, code }: { client: RoomClient | null; code: string }) {
  const queue = useRoomStore((s) => s.queue);
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const { settings, saving, error: settingsError, change } = useRoomSettings(code);
  const [url, setUrl] = useState("");
  const refused = useRecentError("queue", 6_000);
  const error = refused ? (QUEUE_ERRORS[`${refused.type} ${refused.code}`] ?? refused.detail) : null;
  const isHost = you?.role === "host";
  const canAdd = mayAddToQueue(settings, you, holderId);

  const add = (e: FormEvent) => {
    e.preventDefault();
    const target = normaliseStartUrl(url);
    if (target === null) return;
    if (client?.queueAdd(target)) setUrl("");
  };

  return (
    <section className="flex max-h-[32%] min-h-0 shrink-0 flex-col border-b border-zinc-800" aria-labelledby="queue-title">
      <div className="flex items-center justify-between px-3 pt-2">
        <h2 id="queue-title" className="flex items-center gap-1.5 text-sm font-semibold text-zinc-200">
          <ListVideo className="size-4 text-zinc-400" aria-hidden /> Up next <span className="font-normal text-zinc-500">{queue.length || ""}</span>
        </h2>
        {isHost ? (
          <label className="flex cursor-pointer items-center gap-1.5 text-xs text-zinc-400" title="When on, only you and the holder of the remote can add to the queue">
            <input type="checkbox" className="size-3.5 accent-violet-500" checked={settings.queue_host_only} disabled={saving} onChange={(e) => void change({ queue_host_only: e.target.checked })} />
            Only host and remote add
          </label>
        ) : null}
      </div>
      <ol aria-label="Up next" className="min-h-0 flex-1 space-y-0.5 overflow-y-auto px-2 py-1">
        {queue.map((entry, i) => {
          const mayRemove = isHost || entry.added_by.id === you?.user_id;
          const label = entry.title?.trim() || entry.url;
          return (
            <li key={entry.id} aria-label={label} className="group flex items-center gap-2 rounded-md px-1.5 py-1 hover:bg-zinc-900">
              <span className="w-4 shrink-0 text-right text-xs tabular-nums text-zinc-500">{i + 1}</span>
              <div className="min-w-0 flex-1">
                <p className="truncate text-sm text-zinc-100" title={entry.url}>
                  {label}
                </p>
                <p className="truncate text-[11px] text-zinc-500">
                  {entry.title ? `${hostOf(entry.url)} · ` : ""}
                  {entry.added_by.username} · {relativeTime(entry.added_at)}
                </p>
              </div>
              {isHost ? (
                <>
                  <Button variant="ghost" size="iconSm" aria-label="Move up" disabled={i === 0} onClick={() => client?.queueMove(entry.id, i - 1)}>
                    <ArrowUp aria-hidden />
                  </Button>
                  <Button variant="ghost" size="iconSm" aria-label="Move down" disabled={i === queue.length - 1} onClick={() => client?.queueMove(entry.id, i + 1)}>
                    <ArrowDown aria-hidden />
                  </Button>
                </>
              ) : null}
              {mayRemove ? (
                <Button variant="ghost" size="iconSm" aria-label="Remove" title={`Remove ${label}`} onClick={() => client?.queueRemove(entry.id)}>
                  <X aria-hidden />
                </Button>
              ) : null}
            </li>
          );
        })}
      </ol>
      {queue.length === 0 ? <p className="px-3 pb-1 text-xs text-zinc-500">Nothing queued. Add an address: the room opens it when the playing video ends.</p> : null}
      <form onSubmit={add} className="flex items-center gap-1.5 px-2 pb-2 pt-1">
        <Input
          aria-label="Add to queue"
          className="h-8 font-mono text-xs"
          value={url}
          disabled={!canAdd}
          placeholder={canAdd ? "Paste an address to play next" : "Host and remote holder only"}
          onChange={(e) => setUrl(e.target.value)}
          spellCheck={false}
          autoComplete="off"
        />
        <Button type="submit" size="sm" disabled={!canAdd || !url.trim() || !client}>
          <Plus aria-hidden /> Add
        </Button>
      </form>
      {error || settingsError ? (
        <p role="alert" className="px-3 pb-2 text-xs text-red-400">
          {error ?? settingsError}
        </p>
      ) : null}
    </section>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
