import { KeyRound } from "lucide-react";
import { useRoomSettings } from "../hooks/useRoomSettings";
import { useRoomStore } from "../store/roomStore";

/**
 * A room with its host's browser profile loaded (issue 22): the host's "Let others drive my
 * signed-in browser" setting, and for everyone else why they cannot take the remote while it is
 * off (the server refuses them anyway: `profile_owner_only`).
 */
export function ProfileDriveSetting({ code }: { code: string }) {
  const you = useRoomStore((s) => s.you);
  const { settings, saving, error, change } = useRoomSettings(code);
  if (!settings.keep_profile) return null;
  if (you?.role === "host") {
    return (
      <label className="flex shrink-0 cursor-pointer items-center gap-1.5 text-xs text-zinc-300">
        <input
          type="checkbox"
          className="size-3.5 accent-violet-500"
          checked={settings.profile_others_drive}
          disabled={saving}
          onChange={(e) => void change({ profile_others_drive: e.target.checked })}
        />
        Let others drive my signed-in browser
        {error ? (
          <span role="alert" className="text-red-400">
            {error}
          </span>
        ) : null}
      </label>
    );
  }
  return settings.profile_others_drive ? null : (
    <span className="flex items-center gap-1 text-xs text-zinc-500">
      <KeyRound className="size-3" aria-hidden /> Only the host drives: the browser is signed in as them.
    </span>
  );
}
