import { ArrowDown, Clapperboard, History, Loader2, SendHorizontal, Smile, Trash2 } from "lucide-react";
import { useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { errorText } from "../api/errors";
import { Button } from "../components/ui/button";
import { Confirm } from "../components/ui/confirm";
import { useNow } from "../hooks/useNow";
import { cn } from "../lib/cn";
import { useClearChat, useFetchMessagesPage } from "../queries/rooms";
import type { RoomClient } from "../realtime/roomClient";
import { prependHistory, typingNames } from "../store/roomReducer";
import { useRoomStore } from "../store/roomStore";
import { EMOJI } from "./emoji";
import { formatTime } from "../lib/time";

const MAX_CHARS = 2000;

export function ChatPanel({ client, code }: { client: RoomClient | null; code: string }) {
  const timeline = useRoomStore((s) => s.timeline);
  const you = useRoomStore((s) => s.you);
  const participants = useRoomStore((s) => s.participants);
  const lastError = useRoomStore((s) => s.lastError);
  const typingMap = useRoomStore((s) => s.typing);
  const now = useNow(1000);
  const typers = typingNames({ typing: typingMap, you, participants }, now);
  const [text, setText] = useState("");
  const [emojiOpen, setEmojiOpen] = useState(false);
  const [unread, setUnread] = useState(0);
  const olderHistory = useRoomStore((s) => s.olderHistory);
  const [olderState, setOlderState] = useState<"idle" | "loading" | "done" | string>("idle");
  const [confirmClear, setConfirmClear] = useState(false);
  const fetchPage = useFetchMessagesPage(code);
  const clearChat = useClearChat({ onError: (err) => setOlderState(errorText(err)) });
  const log = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const seen = useRef(0);
  const typingSent = useRef(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const me = participants.find((p) => p.user_id === you?.user_id);
  const isHost = you?.role === "host";
  const chatCount = timeline.length;

  // Follow new messages when at the bottom; otherwise count them as unread.
  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    const added = chatCount - seen.current;
    seen.current = chatCount;
    if (atBottom.current) el.scrollTop = el.scrollHeight;
    else if (added > 0) setUnread((u) => u + added);
  }, [chatCount]);

  const onScroll = () => {
    const el = log.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom.current) setUnread(0);
  };

  const jump = () => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnread(0);
  };

  const typing = (value: string) => {
    setText(value);
    const t = Date.now();
    if (value && t - typingSent.current > 3000) {
      typingSent.current = t;
      client?.send("chat.typing", { typing: true });
    } else if (!value && typingSent.current) {
      typingSent.current = 0;
      client?.send("chat.typing", { typing: false });
    }
  };

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (!body || !client || !you || !me) return;
    if (client.sendChat(body, { id: you.user_id, username: me.username })) {
      setText("");
      typingSent.current = 0;
      atBottom.current = true;
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  const loadOlder = async () => {
    const first = timeline.find((i) => i.kind === "chat" && !i.pending);
    setOlderState("loading");
    try {
      const page = await fetchPage(first?.kind === "chat" ? first.msg.id : null);
      // The REST history carries no client_id (only a socket's own echo needs one).
      const older = page.data.map((m) => ({ ...m, client_id: null })).reverse();
      useRoomStore.getState().update((v) => prependHistory(v, older));
      setOlderState(page.has_more ? "idle" : "done");
    } catch (err) {
      setOlderState(errorText(err));
    }
  };

  const clear = () => {
    setConfirmClear(false);
    clearChat.mutate(code);
  };

  const chatError = lastError && (lastError.type === "chat.send" || ["rate_limited", "too_long", "empty_message"].includes(lastError.code)) ? lastError.detail : null;

  return (
    <section className="flex min-h-0 flex-1 flex-col" aria-labelledby="chat-title">
      <div className="flex items-center justify-between border-b border-zinc-800 px-3 py-2">
        <h2 id="chat-title" className="text-sm font-semibold text-zinc-200">
          Chat
        </h2>
        {isHost ? (
          <Button variant="ghost" size="sm" onClick={() => setConfirmClear(true)}>
            <Trash2 aria-hidden /> Clear history
          </Button>
        ) : null}
      </div>
      <div ref={log} role="log" aria-label="Chat" aria-live="polite" onScroll={onScroll} className="relative min-h-0 flex-1 space-y-1 overflow-y-auto px-3 py-2">
        {olderHistory && olderState !== "done" ? (
          <div className="flex justify-center pb-1">
            <Button variant="link" size="sm" onClick={() => void loadOlder()} disabled={olderState === "loading"}>
              {olderState === "loading" ? <Loader2 className="animate-spin" aria-hidden /> : <History aria-hidden />}
              Load older messages
            </Button>
          </div>
        ) : timeline.length > 0 ? (
          <p className="pb-1 text-center text-xs text-zinc-600">Start of the chat</p>
        ) : null}
        {olderState !== "idle" && olderState !== "loading" && olderState !== "done" ? <p className="text-center text-xs text-red-400">{olderState}</p> : null}
        {timeline.length === 0 ? <p className="py-6 text-center text-sm text-zinc-500">No messages yet. Say hi!</p> : null}
        {timeline.map((item) =>
          item.kind === "notice" ? (
            <p key={`n${item.notice.id}`} className="py-0.5 text-center text-xs text-zinc-500">
              {item.notice.text} · {formatTime(item.notice.at)}
            </p>
          ) : item.msg.kind === "system" ? (
            // The room's own line about what someone did ("ana paused at 12:31"): not their words.
            <p key={item.msg.id} data-kind="system" className="flex items-center justify-center gap-1.5 py-0.5 text-center text-xs italic text-amber-200/80">
              <Clapperboard className="size-3.5 shrink-0 not-italic" aria-hidden />
              <span>{item.msg.text}</span>
              <time dateTime={item.msg.created_at} className="not-italic text-zinc-500">
                · {formatTime(item.msg.created_at)}
              </time>
            </p>
          ) : (
            <div key={item.msg.id} className={cn("group rounded-md px-1.5 py-1 hover:bg-zinc-900", item.pending && "opacity-60")}>
              <div className="flex items-baseline gap-2">
                <span className={cn("text-sm font-semibold", item.msg.user.id === you?.user_id ? "text-violet-300" : "text-sky-300")}>{item.msg.user.username}</span>
                <time dateTime={item.msg.created_at} className="text-[11px] text-zinc-500">
                  {item.pending ? "sending…" : formatTime(item.msg.created_at)}
                </time>
              </div>
              <p className="whitespace-pre-wrap break-words text-sm text-zinc-100">{item.msg.text}</p>
            </div>
          ),
        )}
      </div>
      {unread > 0 ? (
        <div className="flex justify-center">
          <Button size="sm" className="-mt-10 shadow-lg" onClick={jump}>
            <ArrowDown aria-hidden /> {unread} new message{unread === 1 ? "" : "s"}
          </Button>
        </div>
      ) : null}
      <p className="h-5 px-3 text-xs italic text-zinc-400" aria-live="polite">
        {typers.length === 1 ? `${typers[0]} is typing…` : typers.length > 1 ? `${typers.slice(0, 3).join(", ")} are typing…` : ""}
      </p>
      {chatError ? (
        <p role="alert" className="px-3 pb-1 text-xs text-red-400">
          {chatError}
        </p>
      ) : null}
      <form onSubmit={send} className="relative flex items-end gap-1.5 border-t border-zinc-800 p-2">
        {emojiOpen ? (
          <div className="absolute bottom-full left-2 mb-1 grid grid-cols-8 gap-0.5 rounded-lg border border-zinc-700 bg-zinc-900 p-1.5 shadow-xl" role="group" aria-label="Emoji">
            {EMOJI.map((e) => (
              <button
                key={e}
                type="button"
                className="rounded p-1 text-lg hover:bg-zinc-800 focus-visible:bg-zinc-800"
                aria-label={`Insert ${e}`}
                onClick={() => {
                  typing(text + e);
                  setEmojiOpen(false);
                  input.current?.focus();
                }}
              >
                {e}
              </button>
            ))}
          </div>
        ) : null}
        <Button variant="ghost" size="icon" aria-label="Emoji" aria-expanded={emojiOpen} onClick={() => setEmojiOpen(!emojiOpen)}>
          <Smile aria-hidden />
        </Button>
        <textarea
          ref={input}
          aria-label="Message"
          rows={1}
          maxLength={MAX_CHARS}
          value={text}
          placeholder={client ? "Message the room" : "Connecting…"}
          onChange={(e) => typing(e.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => typingSent.current && typing(text)}
          className="max-h-32 min-h-9 flex-1 resize-none rounded-md border border-zinc-700 bg-zinc-900 px-3 py-2 text-sm text-zinc-100 placeholder:text-zinc-500 focus-visible:border-violet-400 focus-visible:outline-none"
        />
        <Button type="submit" size="icon" aria-label="Send" disabled={!text.trim() || !client}>
          <SendHorizontal aria-hidden />
        </Button>
      </form>
      <Confirm open={confirmClear} title="Clear the chat history?" confirmLabel="Clear for everyone" destructive onConfirm={clear} onCancel={() => setConfirmClear(false)}>
        Every message in this room is deleted for everyone. This cannot be undone.
      </Confirm>
    </section>
  );
}
