import { ArrowLeft, ArrowRight, Globe, Loader2, RotateCw } from "lucide-react";
import { useState, type FormEvent, type ReactNode } from "react";
import { Button } from "../components/ui/button";
import { Input } from "../components/ui/input";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";
import { normaliseStartUrl } from "../lib/startUrl";
import { PasteButton } from "./PasteButton";

/** The shared browser's address bar; `children` go at its end (the room's browser settings). */
export function NavBar({ client, isHolder, children }: { client: RoomClient | null; isHolder: boolean; children?: ReactNode }) {
  const browser = useRoomStore((s) => s.browser);
  const lastError = useRoomStore((s) => s.lastError);
  // What you type while the field has focus; otherwise the field shows the shared browser's URL.
  const [draft, setDraft] = useState<string | null>(null);
  const address = draft ?? browser?.url ?? "";

  const go = (e: FormEvent) => {
    e.preventDefault();
    const url = normaliseStartUrl(address);
    if (url === null) return;
    client?.send("browser.navigate", { url });
    setDraft(null);
    (document.activeElement as HTMLElement | null)?.blur();
  };
  const urlError = lastError?.type === "browser.navigate" ? lastError.detail : null;

  return (
    <div className="flex items-center gap-1.5 border-b border-zinc-800 bg-zinc-900/60 px-2 py-1.5">
      <Button variant="ghost" size="iconSm" aria-label="Back" disabled={!isHolder || !browser?.can_go_back} onClick={() => client?.send("browser.back")}>
        <ArrowLeft aria-hidden />
      </Button>
      <Button variant="ghost" size="iconSm" aria-label="Forward" disabled={!isHolder || !browser?.can_go_forward} onClick={() => client?.send("browser.forward")}>
        <ArrowRight aria-hidden />
      </Button>
      <Button variant="ghost" size="iconSm" aria-label="Reload" disabled={!isHolder || !browser} onClick={() => client?.send("browser.reload")}>
        {browser?.loading ? <Loader2 className="animate-spin" aria-hidden /> : <RotateCw aria-hidden />}
      </Button>
      <form onSubmit={go} className="relative flex-1">
        <Globe className="pointer-events-none absolute left-2.5 top-1/2 size-4 -translate-y-1/2 text-zinc-500" aria-hidden />
        <Input
          aria-label="Address"
          className="h-8 pl-8 font-mono text-xs"
          value={address}
          disabled={!isHolder}
          placeholder={isHolder ? "Type an address and press Enter" : "Only the holder of the remote can navigate"}
          onFocus={(e) => {
            setDraft(address);
            e.currentTarget.select();
          }}
          onBlur={() => setDraft(null)}
          onChange={(e) => setDraft(e.target.value)}
          spellCheck={false}
          autoComplete="off"
        />
      </form>
      <PasteButton client={client} isHolder={isHolder} />
      <span className="hidden max-w-[30%] truncate text-xs text-zinc-400 lg:inline" title={browser?.title}>
        {browser?.title}
      </span>
      {urlError ? (
        <span role="alert" className="text-xs text-red-400">
          {urlError}
        </span>
      ) : null}
      {children}
    </div>
  );
}
