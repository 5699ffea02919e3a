import { ChevronDown, Crown, ExternalLink, History, Loader2, Tv } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router-dom";
import type { Room } from "../api/http";
import { useAuth } from "../hooks/useAuth";
import { cn } from "../lib/cn";
import { isStarting, reasonWords, splitRooms, statusWords } from "../lib/roomStatus";
import { durationWords, formatDateTime, relativeTime } from "../lib/time";
import { QueryError } from "../components/QueryError";
import { Badge } from "../components/ui/badge";
import { Button, buttonVariants } from "../components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../components/ui/card";
import { useMyRooms } from "../queries/rooms";
import { ChatHistory } from "./ChatHistory";

export function MyRooms() {
  const { user } = useAuth();
  const rooms = useMyRooms();

  return (
    <Card>
      <CardHeader className="flex flex-row items-start justify-between gap-4 space-y-0">
        <div className="space-y-1">
          <CardTitle>My rooms</CardTitle>
          <CardDescription>Rooms you host or joined. Live ones first.</CardDescription>
        </div>
        {rooms.isFetching && !rooms.isPending ? <Loader2 className="mt-1 size-4 animate-spin text-zinc-500" aria-label="Refreshing" /> : null}
      </CardHeader>
      <CardContent>
        {rooms.isPending ? (
          <RoomsSkeleton />
        ) : rooms.isError ? (
          <QueryError what="your rooms" error={rooms.error} onRetry={() => void rooms.refetch()} />
        ) : rooms.data.data.length === 0 ? (
          <EmptyRooms />
        ) : (
          <RoomLists rooms={rooms.data.data} me={user?.id ?? null} />
        )}
      </CardContent>
    </Card>
  );
}

function RoomLists({ rooms, me }: { rooms: Room[]; me: string | null }) {
  const { live, past } = splitRooms(rooms);
  return (
    <div className="space-y-6">
      <section aria-labelledby="live-rooms">
        <h3 id="live-rooms" className="mb-2 text-xs font-semibold tracking-wider text-zinc-500 uppercase">
          Live now <span className="text-zinc-600">· {live.length}</span>
        </h3>
        {live.length === 0 ? (
          <p className="rounded-lg border border-dashed border-zinc-800 px-4 py-3 text-sm text-zinc-500">No room of yours is live right now.</p>
        ) : (
          <ul className="divide-y divide-zinc-800 overflow-hidden rounded-lg border border-zinc-800">
            {live.map((r) => (
              <LiveRoom key={r.id} room={r} hosted={r.host_id === me} />
            ))}
          </ul>
        )}
      </section>
      {past.length > 0 ? (
        <section aria-labelledby="past-rooms">
          <h3 id="past-rooms" className="mb-2 text-xs font-semibold tracking-wider text-zinc-500 uppercase">
            Past rooms <span className="text-zinc-600">· {past.length}</span>
          </h3>
          <ul className="divide-y divide-zinc-800 overflow-hidden rounded-lg border border-zinc-800">
            {past.map((r) => (
              <PastRoom key={r.id} room={r} hosted={r.host_id === me} />
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}

function RoomTitle({ room, hosted, id }: { room: Room; hosted: boolean; id: string }) {
  return (
    <div className="flex min-w-0 items-center gap-2">
      <span id={id} className="truncate font-medium text-zinc-100">
        {room.title}
      </span>
      {hosted ? (
        <Badge tone="accent" title="You host this room">
          <Crown aria-hidden /> Host
        </Badge>
      ) : null}
    </div>
  );
}

function LiveRoom({ room, hosted }: { room: Room; hosted: boolean }) {
  const status = statusWords(room);
  const titleId = `room-${room.code}-title`;
  return (
    <li className="flex flex-wrap items-center gap-x-4 gap-y-2 bg-zinc-900/40 px-4 py-3">
      <div className="min-w-0 flex-1 space-y-1">
        <RoomTitle room={room} hosted={hosted} id={titleId} />
        <p className="text-xs text-zinc-500">
          <span className="font-mono text-zinc-400">{room.code}</span> · started{" "}
          <time dateTime={room.created_at} title={formatDateTime(room.created_at)}>
            {relativeTime(room.created_at)}
          </time>{" "}
          · up to {room.max_participants} people
        </p>
      </div>
      <Badge tone={status.tone} className="shrink-0">
        {isStarting(room) ? <Loader2 className="animate-spin" aria-hidden /> : <span className={cn("size-1.5 rounded-full", status.tone === "good" ? "bg-emerald-400" : "bg-zinc-500")} />}
        {status.label}
      </Badge>
      <Link to={`/room/${room.code}`} className={buttonVariants({ size: "sm" })} aria-describedby={titleId}>
        <ExternalLink aria-hidden /> Open
      </Link>
    </li>
  );
}

function PastRoom({ room, hosted }: { room: Room; hosted: boolean }) {
  const [open, setOpen] = useState(false);
  const status = statusWords(room);
  const reason = reasonWords(room.status_reason);
  const end = room.ended_at ?? room.created_at;
  const titleId = `room-${room.code}-title`;
  const panelId = `room-${room.code}-chat`;
  return (
    <li className="bg-zinc-950/30">
      <div className="flex flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3">
        <div className="min-w-0 flex-1 space-y-1">
          <RoomTitle room={room} hosted={hosted} id={titleId} />
          <p className="text-xs text-zinc-500">
            <span className="font-mono text-zinc-400">{room.code}</span> ·{" "}
            <time dateTime={end} title={formatDateTime(end)}>
              {formatDateTime(end)}
            </time>
            {room.ended_at ? <> · lasted {durationWords(room.created_at, room.ended_at)}</> : null}
            {reason ? <> · {reason}</> : null}
          </p>
        </div>
        <Badge tone={status.tone} className="shrink-0">
          {status.label}
        </Badge>
        {hosted ? (
          <Button variant="ghost" size="sm" aria-expanded={open} aria-controls={panelId} aria-describedby={titleId} onClick={() => setOpen((o) => !o)}>
            <History aria-hidden /> Chat history
            <ChevronDown aria-hidden className={cn("transition-transform", open && "rotate-180")} />
          </Button>
        ) : null}
      </div>
      {open ? (
        <div className="border-t border-zinc-800 bg-zinc-950/60">
          <ChatHistory code={room.code} id={panelId} />
        </div>
      ) : null}
    </li>
  );
}

function EmptyRooms() {
  return (
    <div className="flex flex-col items-center rounded-lg border border-dashed border-zinc-800 px-6 py-10 text-center">
      <div className="mb-3 flex size-11 items-center justify-center rounded-full bg-violet-500/15 text-violet-300">
        <Tv className="size-5" aria-hidden />
      </div>
      <p className="font-medium text-zinc-200">No rooms yet</p>
      <p className="mt-1 max-w-xs text-sm text-zinc-500">Create your first room, or join one with the link a friend sent you. Your rooms show up here.</p>
    </div>
  );
}

function RoomsSkeleton() {
  return (
    <div role="status" aria-label="Loading your rooms" className="space-y-2">
      {[0, 1, 2].map((i) => (
        <div key={i} className="h-14 animate-pulse rounded-lg bg-zinc-800/50" />
      ))}
    </div>
  );
}
