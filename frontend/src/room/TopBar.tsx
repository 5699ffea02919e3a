import { ArrowLeft, Check, Link2, Power } from "lucide-react";
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { errorText } from "../api/errors";
import { Badge } from "../components/ui/badge";
import { Button, buttonVariants } from "../components/ui/button";
import { Confirm } from "../components/ui/confirm";
import { useRoomStore } from "../store/roomStore";
import { statusWords } from "../lib/roomStatus";
import { useEndRoom } from "../queries/rooms";

export function TopBar({ code }: { code: string }) {
  const room = useRoomStore((s) => s.room);
  const isHost = useRoomStore((s) => s.you?.role === "host");
  const socket = useRoomStore((s) => s.socket);
  const [copied, setCopied] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();
  const badge = room ? statusWords(room) : { label: "Connecting", tone: "warn" as const };

  const copy = async () => {
    const link = room?.join_url ?? `${window.location.origin}/room/${code}`;
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      window.prompt("Copy this invite link", link);
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };

  const endRoom = useEndRoom({ onError: (err) => setError(errorText(err)) });
  const end = () => {
    setConfirming(false);
    endRoom.mutate(code);
  };

  return (
    <header className="flex h-12 shrink-0 items-center gap-3 border-b border-zinc-800 bg-zinc-950 px-3">
      <Link to="/dashboard" className={buttonVariants({ variant: "ghost", size: "iconSm" })} aria-label="Back to dashboard">
        <ArrowLeft aria-hidden />
      </Link>
      <h1 className="min-w-0 truncate font-semibold text-zinc-50">{room?.title ?? "Room"}</h1>
      <Badge tone={badge.tone}>{badge.label}</Badge>
      <span className="hidden font-mono text-xs text-zinc-500 md:inline">{code}</span>
      {socket === "reconnecting" ? <Badge tone="warn">Reconnecting…</Badge> : null}
      {error ? (
        <span role="alert" className="text-sm text-red-400">
          {error}
        </span>
      ) : null}
      <div className="ml-auto flex items-center gap-2">
        <Button variant="secondary" size="sm" title="Copy invite link" onClick={() => void copy()}>
          {copied ? <Check aria-hidden /> : <Link2 aria-hidden />}
          {/* On a phone the buttons keep their names but show only their icons: the room's
              title needs the width. */}
          <span className="sr-only sm:not-sr-only">Copy invite link</span>
        </Button>
        {copied ? (
          <span role="status" className="text-xs text-emerald-300">
            Copied
          </span>
        ) : null}
        {isHost && room?.status !== "ended" ? (
          <Button variant="destructive" size="sm" title="End room" onClick={() => setConfirming(true)}>
            <Power aria-hidden /> <span className="sr-only sm:not-sr-only">End room</span>
          </Button>
        ) : null}
        {!isHost ? (
          <Button variant="ghost" size="sm" onClick={() => navigate("/dashboard")}>
            Leave
          </Button>
        ) : null}
      </div>
      <Confirm
        open={confirming}
        title="End this room for everyone?"
        confirmLabel="End the room"
        destructive
        onConfirm={end}
        onCancel={() => setConfirming(false)}
      >
        The shared browser stops and everyone is told the room has ended. The chat history stays on your dashboard.
      </Confirm>
    </header>
  );
}
