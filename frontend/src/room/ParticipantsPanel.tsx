import { Crown, Gamepad2, HeadphoneOff, Mic, MicOff, MoreHorizontal, Radio, UserX } from "lucide-react";
import { useState } from "react";
import { errorText } from "../api/errors";
import { Badge } from "../components/ui/badge";
import { Button } from "../components/ui/button";
import { Confirm } from "../components/ui/confirm";
import { cn } from "../lib/cn";
import type { ParticipantInfo } from "../realtime/protocol";
import type { RoomClient } from "../realtime/roomClient";
import { useMakeHost, useRemoveParticipant } from "../queries/rooms";
import { useRoomStore } from "../store/roomStore";
import { VoiceControls } from "./VoiceControls";

interface Props {
  client: RoomClient | null;
  code: string;
  speaking: boolean;
}

export function ParticipantsPanel({ client, code, speaking }: Props) {
  const participants = useRoomStore((s) => s.participants);
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const [error, setError] = useState<string | null>(null);
  const [kick, setKick] = useState<ParticipantInfo | null>(null);
  const isHost = you?.role === "host";
  const sorted = [...participants].sort((a, b) => Number(b.online) - Number(a.online) || Number(b.role === "host") - Number(a.role === "host") || a.username.localeCompare(b.username));
  const inVoice = participants.filter((p) => p.voice !== null && p.online).length;

  // Either action's failure shows under the voice controls until the next action.
  const failed = { onError: (err: Error) => setError(errorText(err)) };
  const makeHost = useMakeHost(failed);
  const remove = useRemoveParticipant(failed);

  return (
    <section className="flex max-h-[45%] min-h-0 shrink-0 flex-col border-b border-zinc-800" aria-labelledby="people-title">
      <div className="flex items-center justify-between px-3 py-2">
        <h2 id="people-title" className="text-sm font-semibold text-zinc-200">
          People <span className="font-normal text-zinc-500">{participants.filter((p) => p.online).length} online</span>
        </h2>
      </div>
      <VoiceControls client={client} speaking={speaking} inVoice={inVoice} />
      {error ? (
        <p role="alert" className="px-3 text-xs text-red-400">
          {error}
        </p>
      ) : null}
      <ul role="list" aria-label="Participants" className="min-h-0 flex-1 space-y-0.5 overflow-y-auto px-2 pb-2">
        {sorted.map((p) => (
          <ParticipantRow
            key={p.user_id}
            p={p}
            isYou={p.user_id === you?.user_id}
            holds={p.user_id === holderId}
            hostView={isHost}
            speakingSelf={speaking}
            client={client}
            onPass={() => client?.send("remote.pass", { user_id: p.user_id })}
            onMakeHost={() => {
              setError(null);
              makeHost.mutate({ code, userId: p.user_id });
            }}
            onKick={() => setKick(p)}
          />
        ))}
      </ul>
      <Confirm
        open={kick !== null}
        title={`Remove ${kick?.username ?? ""} from the room?`}
        confirmLabel="Remove"
        destructive
        onCancel={() => setKick(null)}
        onConfirm={() => {
          const target = kick;
          setKick(null);
          if (target) {
            setError(null);
            remove.mutate({ code, userId: target.user_id });
          }
        }}
      >
        They leave at once and cannot join this room again.
      </Confirm>
    </section>
  );
}

interface RowProps {
  p: ParticipantInfo;
  isYou: boolean;
  holds: boolean;
  hostView: boolean;
  speakingSelf: boolean;
  client: RoomClient | null;
  onPass: () => void;
  onMakeHost: () => void;
  onKick: () => void;
}

function ParticipantRow({ p, isYou, holds, hostView, speakingSelf, client, onPass, onMakeHost, onKick }: RowProps) {
  const [menu, setMenu] = useState(false);
  const [volume, setVolume] = useState(1);
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const link = useRoomStore((s) => s.voicePeers[p.user_id]);
  const speaking = isYou ? speakingSelf || (p.voice?.speaking ?? false) : (p.voice?.speaking ?? false);
  const canPass = !isYou && (hostView || holderId === you?.user_id);
  const voiceWords = p.voice ? (p.voice.deafened ? "deafened" : p.voice.muted ? "muted" : speaking ? "speaking" : "in voice") : null;
  return (
    <li className={cn("rounded-md px-2 py-1.5", speaking && "bg-emerald-500/10 ring-1 ring-emerald-500/50")} data-speaking={speaking ? "true" : "false"} data-voice-link={link ?? "none"} aria-label={`${p.username}${isYou ? " (you)" : ""}`}>
      <div className="flex items-center gap-2">
        <span className={cn("size-2 shrink-0 rounded-full", p.online ? "bg-emerald-400" : "bg-zinc-600")} aria-hidden />
        <span className={cn("truncate text-sm", p.online ? "text-zinc-100" : "text-zinc-500")}>
          {p.username}
          {isYou ? <span className="text-zinc-500"> (you)</span> : null}
        </span>
        <span className="sr-only">{p.online ? "online" : "offline"}</span>
        {p.role === "host" ? (
          <Badge tone="accent" title="Host">
            <Crown aria-hidden /> host
          </Badge>
        ) : null}
        {holds ? (
          <Badge tone="good" title="Holds the remote">
            <Gamepad2 aria-hidden /> remote
          </Badge>
        ) : null}
        {voiceWords ? (
          <span className={cn("ml-auto flex items-center gap-1 text-xs", speaking ? "text-emerald-300" : "text-zinc-400")}>
            {p.voice?.deafened ? <HeadphoneOff className="size-3.5" aria-hidden /> : p.voice?.muted ? <MicOff className="size-3.5" aria-hidden /> : speaking ? <Radio className="size-3.5" aria-hidden /> : <Mic className="size-3.5" aria-hidden />}
            {voiceWords}
            {link && link !== "connected" ? <span className="text-amber-300"> · {link === "failed" ? "no link" : "connecting…"}</span> : null}
          </span>
        ) : null}
        {!isYou && (canPass || hostView) ? (
          <Button variant="ghost" size="iconSm" className={voiceWords ? "" : "ml-auto"} aria-label={`Actions for ${p.username}`} aria-expanded={menu} onClick={() => setMenu(!menu)}>
            <MoreHorizontal aria-hidden />
          </Button>
        ) : null}
      </div>
      {!isYou && p.voice && client?.voice ? (
        <label className="mt-1 flex items-center gap-2 pl-4 text-xs text-zinc-400">
          Volume
          <input
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={volume}
            aria-label={`Voice volume of ${p.username}`}
            className="w-28 accent-violet-500"
            onChange={(e) => {
              setVolume(Number(e.target.value));
              client.voice?.setVolume(p.user_id, Number(e.target.value));
            }}
          />
        </label>
      ) : null}
      {menu ? (
        <div className="mt-1.5 flex flex-wrap gap-1.5 pl-4">
          {canPass && !holds ? (
            <Button size="sm" variant="secondary" onClick={() => (setMenu(false), onPass())}>
              <Gamepad2 aria-hidden /> Give the remote to {p.username}
            </Button>
          ) : null}
          {hostView ? (
            <>
              <Button size="sm" variant="secondary" onClick={() => (setMenu(false), onMakeHost())}>
                <Crown aria-hidden /> Make {p.username} the host
              </Button>
              <Button size="sm" variant="destructive" onClick={() => (setMenu(false), onKick())}>
                <UserX aria-hidden /> Remove {p.username}
              </Button>
            </>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}
