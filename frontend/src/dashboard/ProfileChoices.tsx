import { KeyRound } from "lucide-react";
import type { UseFormRegisterReturn } from "react-hook-form";

/**
 * "Keep my browser profile" (issue 22): the room's browser starts with your saved cookies and
 * local storage (still signed in where you were) and saves them back. With it, "Let others drive
 * my signed-in browser" (off by default): else only you hold the remote in that room.
 */
export function ProfileChoices({
  keep,
  othersDrive,
  keepProfile,
}: {
  /** The create form's registrations of `keep_profile` and `profile_others_drive`. */
  keep: UseFormRegisterReturn;
  othersDrive: UseFormRegisterReturn;
  keepProfile: boolean;
}) {
  return (
    <fieldset className="space-y-2 rounded-lg border border-zinc-800 px-3 py-2.5">
      <legend className="sr-only">Browser profile</legend>
      <label className="flex cursor-pointer items-start gap-2 text-sm text-zinc-200">
        <input type="checkbox" className="mt-0.5 size-4 accent-violet-500" {...keep} />
        <span>
          <span className="flex items-center gap-1.5 font-medium">
            <KeyRound className="size-3.5 text-violet-300" aria-hidden />
            Keep my browser profile
          </span>
          <span className="block text-xs text-zinc-500">Stay signed in to your sites next time: cookies and site storage are saved, encrypted, for your rooms only.</span>
        </span>
      </label>
      {keepProfile ? (
        <label className="ml-6 flex cursor-pointer items-center gap-2 text-sm text-zinc-300">
          <input type="checkbox" className="size-4 accent-violet-500" {...othersDrive} />
          Let others drive my signed-in browser
        </label>
      ) : null}
    </fieldset>
  );
}
