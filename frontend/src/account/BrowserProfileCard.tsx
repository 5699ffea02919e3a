import { KeyRound, Loader2 } from "lucide-react";
import { errorText } from "../api/errors";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { Card } from "../components/ui/card";
import { relativeTime } from "../lib/time";
import { useBrowserProfile, useForgetBrowserProfile } from "../queries/account";

/** Size in words (KB / MB, one decimal). */
function sizeWords(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The saved browser profile of "Keep my browser profile" (issue 22): whether there is one, and
 * "Forget my browser profile", which deletes it (the next room starts signed out everywhere).
 */
export function BrowserProfileCard() {
  const profile = useBrowserProfile();
  const forget = useForgetBrowserProfile();
  const saved = profile.data?.saved === true;
  return (
    <Card className="mb-6 flex flex-wrap items-center gap-x-4 gap-y-3 px-5 py-4">
      <div className="flex size-10 shrink-0 items-center justify-center rounded-lg bg-zinc-800 text-violet-300">
        <KeyRound className="size-5" aria-hidden />
      </div>
      <div className="min-w-0 flex-1 space-y-1">
        <h2 className="font-medium text-zinc-100">Browser profile</h2>
        <p className="text-xs text-zinc-400" role="status">
          {profile.isPending
            ? "Looking for your saved browser profile…"
            : saved && profile.data?.updated_at
              ? `Saved ${relativeTime(profile.data.updated_at)} (${sizeWords(profile.data.bytes ?? 0)}, encrypted): the cookies and site storage of your rooms with “Keep my browser profile”.`
              : "None saved. Tick “Keep my browser profile” when you create a room to stay signed in to your sites next time."}
        </p>
        {forget.isError ? <Alert>Could not forget the profile: {errorText(forget.error)}</Alert> : null}
      </div>
      <Button variant="outline" size="sm" disabled={forget.isPending || !saved} onClick={() => forget.mutate()}>
        {forget.isPending ? <Loader2 className="animate-spin" aria-hidden /> : null}
        Forget my browser profile
      </Button>
    </Card>
  );
}
