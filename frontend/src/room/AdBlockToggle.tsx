import { ShieldCheck, ShieldOff } from "lucide-react";
import { useRoomSettings } from "../hooks/useRoomSettings";
import { useRoomStore } from "../store/roomStore";

/** The room's "Block ads" (issue 22): the host turns the shared browser's ad blocker off and on
 * (applied at once, server-checked: PATCH /api/rooms/{code}/settings); the others see whether it
 * is on. */
export function AdBlockToggle({ code }: { code: string }) {
  const isHost = useRoomStore((s) => s.you?.role === "host");
  const { settings, saving, error, change } = useRoomSettings(code);
  const on = settings.block_ads;
  const Icon = on ? ShieldCheck : ShieldOff;
  if (!isHost) {
    return (
      <span className="flex shrink-0 items-center" title={on ? "Ads are blocked in the shared browser" : "Ads are not blocked"}>
        <Icon className={`size-4 ${on ? "text-emerald-400" : "text-zinc-500"}`} aria-label={on ? "Ads blocked" : "Ads not blocked"} role="img" />
      </span>
    );
  }
  return (
    <label className="flex shrink-0 cursor-pointer items-center gap-1.5 text-xs text-zinc-300" title="The shared browser skips ad and tracker requests and hides ad slots">
      <input type="checkbox" className="size-3.5 accent-violet-500" checked={on} disabled={saving} onChange={(e) => void change({ block_ads: e.target.checked })} />
      <Icon className={`size-4 ${on ? "text-emerald-400" : "text-zinc-500"}`} aria-hidden />
      <span className="sr-only sm:not-sr-only">Block ads</span>
      {error ? (
        <span role="alert" className="text-red-400">
          {error}
        </span>
      ) : null}
    </label>
  );
}
