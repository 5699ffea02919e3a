import { Globe, Laptop, Loader2, ShieldCheck } from "lucide-react";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { BrowserProfileCard } from "../account/BrowserProfileCard";
import { errorText } from "../api/errors";
import type { SessionInfo } from "../api/http";
import { session } from "../auth/session";
import { QueryError } from "../components/QueryError";
import { Alert } from "../components/ui/alert";
import { Badge } from "../components/ui/badge";
import { Button } from "../components/ui/button";
import { Card } from "../components/ui/card";
import { Confirm } from "../components/ui/confirm";
import { describeUserAgent } from "../lib/userAgent";
import { formatDateTime, relativeTime } from "../lib/time";
import { useRevokeSession, useSessions } from "../queries/account";

export function SessionsPage() {
  const navigate = useNavigate();
  // This device's session: the one its access token was issued for.
  const current = session.sessionId();
  const [confirming, setConfirming] = useState<SessionInfo | null>(null);

  const sessions = useSessions();
  // Revoking this device's own session logs it out (the layer does): then to the log-in page.
  const revoke = useRevokeSession({ onSuccess: (s) => s.id === current && navigate("/login", { replace: true }) });

  const list = [...(sessions.data ?? [])].sort(
    (a, b) => Number(b.id === current) - Number(a.id === current) || Date.parse(b.last_used_at) - Date.parse(a.last_used_at),
  );

  return (
    <div className="mx-auto max-w-3xl px-4 py-8">
      <div className="mb-6">
        <h1 className="text-2xl font-semibold tracking-tight text-zinc-50">Sessions</h1>
        <p className="mt-1 text-sm text-zinc-400">
          The devices signed in to your account. Revoke one you do not recognise: it cannot renew its sign-in and is logged out when its current access token
          expires (minutes at most).
        </p>
      </div>
      <BrowserProfileCard />
      {revoke.isError ? <Alert className="mb-4">Could not revoke the session: {errorText(revoke.error)}</Alert> : null}
      {sessions.isPending ? (
        <div role="status" aria-label="Loading sessions" className="space-y-3">
          {[0, 1].map((i) => (
            <div key={i} className="h-20 animate-pulse rounded-xl bg-zinc-800/50" />
          ))}
        </div>
      ) : sessions.isError ? (
        <QueryError what="your sessions" error={sessions.error} onRetry={() => void sessions.refetch()} />
      ) : list.length === 0 ? (
        <Card className="px-6 py-10 text-center text-sm text-zinc-400">No active sessions.</Card>
      ) : (
        <Card>
          <ul className="divide-y divide-zinc-800" aria-label="Signed-in devices">
            {list.map((s) => {
              const isCurrent = s.id === current;
              const nameId = `session-${s.id}`;
              const busy = revoke.isPending && revoke.variables?.id === s.id;
              return (
                <li key={s.id} className="flex flex-wrap items-center gap-x-4 gap-y-3 px-5 py-4">
                  <div className="flex size-10 shrink-0 items-center justify-center rounded-lg bg-zinc-800 text-zinc-300">
                    <Laptop className="size-5" aria-hidden />
                  </div>
                  <div className="min-w-0 flex-1 space-y-1">
                    <div className="flex flex-wrap items-center gap-2">
                      <span id={nameId} className="font-medium text-zinc-100" title={s.user_agent ?? undefined}>
                        {describeUserAgent(s.user_agent)}
                      </span>
                      {isCurrent ? (
                        <Badge tone="good">
                          <ShieldCheck aria-hidden /> This device
                        </Badge>
                      ) : null}
                    </div>
                    <dl className="flex flex-wrap gap-x-4 gap-y-1 text-xs text-zinc-500">
                      <div className="flex items-center gap-1">
                        <dt className="sr-only">IP address</dt>
                        <Globe className="size-3" aria-hidden />
                        <dd className="font-mono">{s.ip ?? "unknown IP"}</dd>
                      </div>
                      <Stamp label="Signed in" iso={s.created_at} />
                      <Stamp label="Last used" iso={s.last_used_at} />
                      <Stamp label="Expires" iso={s.expires_at} />
                    </dl>
                  </div>
                  <Button
                    variant="outline"
                    size="sm"
                    aria-describedby={nameId}
                    disabled={revoke.isPending}
                    onClick={() => (isCurrent ? setConfirming(s) : revoke.mutate(s))}
                  >
                    {busy ? <Loader2 className="animate-spin" aria-hidden /> : null}
                    Revoke
                  </Button>
                </li>
              );
            })}
          </ul>
        </Card>
      )}
      <Confirm
        open={confirming !== null}
        title="Revoke this device?"
        confirmLabel="Revoke and log out"
        destructive
        onCancel={() => setConfirming(null)}
        onConfirm={() => {
          if (confirming) revoke.mutate(confirming);
          setConfirming(null);
        }}
      >
        This is the device you are using now. Revoking its session logs you out here.
      </Confirm>
    </div>
  );
}

function Stamp({ label, iso }: { label: string; iso: string }) {
  return (
    <div className="flex gap-1">
      <dt>{label}</dt>
      <dd>
        <time dateTime={iso} title={formatDateTime(iso)} className="text-zinc-400">
          {relativeTime(iso)}
        </time>
      </dd>
    </div>
  );
}
