import { Gamepad2, Hand } from "lucide-react";
import { Badge } from "../components/ui/badge";
import { Button } from "../components/ui/button";
import { useTouchDevice } from "../hooks/useTouchDevice";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";
import { SoftKeyboard } from "./SoftKeyboard";
import { ProfileDriveSetting } from "./ProfileDriveSetting";

/** Who holds the remote (always visible), and what you can do about it. */
export function RemoteBar({ client, code }: { client: RoomClient | null; code: string }) {
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const requests = useRoomStore((s) => s.requests);
  const participants = useRoomStore((s) => s.participants);
  const name = (id: string | null) => participants.find((p) => p.user_id === id)?.username ?? "someone";
  const isHolder = you !== null && holderId === you.user_id;
  const isHost = you?.role === "host";
  const requested = you !== null && requests.includes(you.user_id);
  const canGrant = isHolder || isHost;
  const touch = useTouchDevice();

  return (
    <div className={`flex min-h-11 shrink-0 flex-wrap items-center gap-2 border-t px-3 py-1.5 ${isHolder ? "border-emerald-500/50 bg-emerald-950/60" : "border-zinc-800 bg-zinc-950"}`}>
      <Gamepad2 className={`size-4 ${isHolder ? "text-emerald-300" : "text-zinc-400"}`} aria-hidden />
      <span className="text-sm" role="status" aria-live="polite">
        {isHolder ? (
          <strong className="font-semibold text-emerald-200">You have the remote</strong>
        ) : holderId ? (
          <>
            <span className="text-zinc-400">Remote: </span>
            <span className="font-medium text-zinc-100">{name(holderId)}</span>
          </>
        ) : (
          <span className="text-zinc-400">Nobody has the remote</span>
        )}
      </span>
      {isHolder ? (
        <span className="hidden text-xs text-emerald-300/80 md:inline">
          {touch ? "Tap to click, drag to scroll, hold for the right button; Keyboard to type." : "Click the picture, then type: your keys go to the shared browser."}
        </span>
      ) : null}
      <div className="ml-auto flex flex-wrap items-center gap-2">
        <ProfileDriveSetting code={code} />
        {canGrant && requests.length > 0 ? (
          <div className="flex items-center gap-1.5" aria-label="Remote requests">
            <Hand className="size-4 text-amber-300" aria-hidden />
            {requests.map((id) => (
              <Button key={id} size="sm" variant="secondary" onClick={() => client?.send("remote.grant", { user_id: id })}>
                Grant to {name(id)}
              </Button>
            ))}
          </div>
        ) : null}
        {isHolder && touch ? <SoftKeyboard client={client} /> : null}
        {!isHolder ? (
          requested ? (
            <Badge tone="warn">Requested: waiting for {holderId ? name(holderId) : "the host"}</Badge>
          ) : (
            <Button size="sm" onClick={() => client?.send("remote.request")}>
              Request remote
            </Button>
          )
        ) : (
          <Button size="sm" variant="outline" onClick={() => client?.send("remote.release")}>
            Release remote
          </Button>
        )}
        {isHost && !isHolder ? (
          <Button size="sm" variant="secondary" onClick={() => client?.send("remote.take")}>
            Take remote
          </Button>
        ) : null}
        {isHost && holderId !== null && !isHolder ? (
          <Button size="sm" variant="ghost" onClick={() => client?.send("remote.revoke")}>
            Revoke
          </Button>
        ) : null}
      </div>
    </div>
  );
}
