import { SendHorizontal } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useNow } from "../hooks/useNow";
import { cn } from "../lib/cn";
import type { RoomClient } from "../realtime/roomClient";
import type { TimelineItem } from "../store/roomReducer";
import { useRoomStore } from "../store/roomStore";

/** How long a line stays over the picture in fullscreen (it fades over its last 2 s). */
const SHOW_MS = 10_000;
const MAX_LINES = 5;

function lineTime(item: TimelineItem): number {
  return Date.parse(item.kind === "chat" ? item.msg.created_at : item.notice.at);
}

/**
 * The chat over the stream in fullscreen: the latest lines, each fading after a few seconds, and
 * a field to answer without leaving fullscreen. The chat panel (outside fullscreen) stays the
 * log screen readers follow; these lines are hidden from them so nothing is read twice.
 */
export function ChatOverlay({ client }: { client: RoomClient | null }) {
  const timeline = useRoomStore((s) => s.timeline);
  const you = useRoomStore((s) => s.you);
  const participants = useRoomStore((s) => s.participants);
  const now = useNow(1_000);
  const [text, setText] = useState("");
  const recent = timeline.filter((i) => now - lineTime(i) < SHOW_MS).slice(-MAX_LINES);
  const me = participants.find((p) => p.user_id === you?.user_id);

  const send = (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (!body || !client || !you || !me) return;
    if (client.sendChat(body, { id: you.user_id, username: me.username })) setText("");
  };

  return (
    <div className="pointer-events-none absolute bottom-3 left-3 flex w-[min(26rem,45%)] flex-col gap-1">
      <div aria-hidden className="flex flex-col gap-1">
        {recent.map((item) => {
          const key = item.kind === "chat" ? item.msg.id : `n${item.notice.id}`;
          const system = item.kind === "notice" || item.msg.kind === "system";
          return (
            <p key={key} className={cn("wp-fade-late w-fit max-w-full break-words rounded-md bg-black/60 px-2 py-1 text-sm shadow backdrop-blur-sm", system ? "italic text-amber-100/90" : "text-zinc-50")}>
              {item.kind === "chat" ? (
                system ? (
                  item.msg.text
                ) : (
                  <>
                    <span className="font-semibold text-sky-300">{item.msg.user.username}</span> {item.msg.text}
                  </>
                )
              ) : (
                item.notice.text
              )}
            </p>
          );
        })}
      </div>
      <form onSubmit={send} className="pointer-events-auto flex items-center gap-1 opacity-40 transition-opacity focus-within:opacity-100 hover:opacity-100">
        <input
          aria-label="Say something"
          value={text}
          maxLength={2000}
          onChange={(e) => setText(e.target.value)}
          placeholder="Say something…"
          className="h-8 min-w-0 flex-1 rounded-md border border-zinc-600 bg-black/60 px-2 text-sm text-zinc-50 placeholder:text-zinc-400 focus-visible:border-violet-400 focus-visible:outline-none"
        />
        <button type="submit" aria-label="Send to the chat" disabled={!text.trim()} className="grid size-8 place-items-center rounded-md bg-violet-600 text-white disabled:opacity-45">
          <SendHorizontal className="size-4" aria-hidden />
        </button>
      </form>
    </div>
  );
}
