import { Globe, Loader2, Plus, X } from "lucide-react";
import { useRef, type KeyboardEvent } from "react";
import { Button } from "../components/ui/button";
import { useRecentError } from "../hooks/useTogether";
import { cn } from "../lib/cn";
import { TAB_ERRORS, tabLabel } from "../lib/tabs";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";

/** The room browser's tabs, above the stream: everyone sees them and which one is on screen; the
 * holder of the remote opens ("New tab"), switches and closes ("Close tab") them. Others see
 * the strip disabled (the server refuses them anyway). */
export function TabStrip({ client, isHolder }: { client: RoomClient | null; isHolder: boolean }) {
  const tabs = useRoomStore((s) => s.tabs);
  const loading = useRoomStore((s) => s.browser?.loading ?? false);
  const refused = useRecentError("tabs", 6_000);
  const list = useRef<HTMLDivElement>(null);
  if (!tabs || tabs.tabs.length === 0) return null;
  const error = refused ? (TAB_ERRORS[refused.code] ?? refused.detail) : null;
  const full = tabs.tabs.length >= tabs.max;

  // Arrow keys move between tabs (the strip is one stop for Tab), Home/End to the ends.
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const buttons = Array.from(list.current?.querySelectorAll<HTMLButtonElement>('[role="tab"]') ?? []);
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const moves: Record<string, number | undefined> = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 };
    const next = moves[e.key];
    if (next === undefined) return;
    e.preventDefault();
    buttons[(next + buttons.length) % buttons.length]?.focus();
  };

  return (
    <div className="flex items-end gap-1 border-b border-zinc-800 bg-zinc-900 px-2 pt-1.5">
      <div ref={list} role="tablist" aria-label="Tabs" onKeyDown={onKeyDown} className="flex min-w-0 flex-1 items-end gap-1 overflow-x-auto">
        {tabs.tabs.map((tab) => {
          const active = tab.id === tabs.active;
          const label = tabLabel(tab);
          return (
            <div
              key={tab.id}
              role="presentation"
              className={cn(
                "flex min-w-0 max-w-[15rem] flex-1 basis-40 items-center rounded-t-md border border-b-0 text-xs",
                active ? "border-zinc-700 bg-zinc-950 text-zinc-100" : "border-transparent bg-zinc-800/50 text-zinc-400 hover:bg-zinc-800",
              )}
            >
              <button
                type="button"
                role="tab"
                aria-selected={active}
                tabIndex={active ? 0 : -1}
                disabled={!isHolder}
                title={tab.url}
                onClick={() => {
                  if (!active) client?.tabsSwitch(tab.id);
                }}
                className="flex min-w-0 flex-1 items-center gap-1.5 py-1.5 pl-2.5 pr-1 text-left outline-none focus-visible:ring-2 focus-visible:ring-violet-400 disabled:cursor-default"
              >
                {active && loading ? <Loader2 className="size-3.5 shrink-0 animate-spin" aria-hidden /> : <Globe className="size-3.5 shrink-0 text-zinc-500" aria-hidden />}
                <span className="truncate">{label}</span>
              </button>
              <button
                type="button"
                aria-label="Close tab"
                title={`Close ${label}`}
                disabled={!isHolder || tabs.tabs.length <= 1}
                onClick={() => client?.tabsClose(tab.id)}
                className="mr-1 shrink-0 rounded p-0.5 text-zinc-500 hover:bg-zinc-700 hover:text-zinc-100 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-violet-400 disabled:pointer-events-none disabled:opacity-40"
              >
                <X className="size-3.5" aria-hidden />
              </button>
            </div>
          );
        })}
      </div>
      <Button
        variant="ghost"
        size="iconSm"
        aria-label="New tab"
        title={full ? `The room’s browser holds at most ${tabs.max} tabs` : "New tab"}
        disabled={!isHolder || full}
        onClick={() => client?.tabsOpen()}
        className="mb-0.5"
      >
        <Plus aria-hidden />
      </Button>
      {error ? (
        <span role="alert" className="mb-1.5 max-w-[40%] truncate text-xs text-red-400">
          {error}
        </span>
      ) : null}
    </div>
  );
}
