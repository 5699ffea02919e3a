import { Pause, Play } from "lucide-react";
import { useEffect, useState } from "react";
import { Button } from "../components/ui/button";
import { useRoomSettings } from "../hooks/useRoomSettings";
import { useMediaPosition, useRecentError } from "../hooks/useTogether";
import { PENDING_SEEK_MS, RATES, formatClock, holdPendingSeek, mayControlMedia, type PendingSeek } from "../realtime/mediaClock";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";
import { PositionSlider } from "./PositionSlider";

const MEDIA_ERRORS: Record<string, string> = {
  not_allowed: "Only the host and the holder of the remote can control playback now.",
  no_media: "The page has no video to control.",
  agent_unavailable: "The room’s browser is reconnecting: try again in a moment.",
};

/**
 * The room's media, driven without the remote (issue 21): play/pause, position, speed, and for
 * the host the "Anyone can pause" setting. Shown only while the room's page has a main media
 * element; members the setting leaves out see the controls disabled (the server refuses them too).
 */
export function MediaBar({ client, code }: { client: RoomClient | null; code: string }) {
  const media = useRoomStore((s) => s.media);
  const mediaAt = useRoomStore((s) => s.mediaAt);
  const agentConnected = useRoomStore((s) => s.agentConnected);
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const { settings, saving, error: settingsError, change } = useRoomSettings(code);
  const position = useMediaPosition(media, mediaAt);
  const [pending, setPending] = useState<PendingSeek | null>(null);
  // A refused command is said for a few seconds, then goes.
  const refused = useRecentError("media.cmd");
  const shownError = refused ? (MEDIA_ERRORS[refused.code] ?? refused.detail) : null;
  // A seek nobody confirmed stops being shown after its time.
  useEffect(() => {
    if (!pending) return;
    const t = setTimeout(() => setPending(null), PENDING_SEEK_MS);
    return () => clearTimeout(t);
  }, [pending]);

  if (!media || !agentConnected) return null;
  const allowed = mayControlMedia(settings, you, holderId);
  const isHost = you?.role === "host";
  const playing = !media.paused && !media.ended;
  // The pending seek's expiry is the effect above (render stays pure: no clock read here).
  const shown = pending && holdPendingSeek(pending, position, mediaAt, pending.sentAt) ? pending.target : position;

  const seek = (seconds: number) => {
    setPending({ target: seconds, sentAt: Date.now() });
    client?.mediaCommand("seek", seconds);
  };

  return (
    <div className="flex shrink-0 flex-wrap items-center gap-x-3 gap-y-1 border-t border-zinc-800 bg-zinc-950 px-2 py-1.5 text-zinc-200">
      <div role="toolbar" aria-label="Media" className="flex min-w-[16rem] flex-1 items-center gap-2">
        <Button
          variant="secondary"
          size="iconSm"
          aria-label={playing ? "Pause" : "Play"}
          title={allowed ? (playing ? "Pause for everyone (Space)" : "Play for everyone (Space)") : "Only the host and the holder of the remote can control playback"}
          disabled={!allowed}
          onClick={() => client?.mediaCommand(playing ? "pause" : "play")}
        >
          {playing ? <Pause aria-hidden /> : <Play aria-hidden />}
        </Button>
        <PositionSlider value={shown} duration={media.duration} disabled={!allowed} onSeek={seek} />
        <span className="shrink-0 text-xs tabular-nums text-zinc-400">
          {formatClock(shown)} / {media.duration === null ? <span className="font-semibold text-red-300">Live</span> : formatClock(media.duration)}
        </span>
        <select
          aria-label="Playback speed"
          value={String(media.rate)}
          disabled={!allowed}
          onChange={(e) => client?.mediaCommand("rate", Number(e.target.value))}
          className="h-7 shrink-0 rounded-md border border-zinc-700 bg-zinc-900 px-1 text-xs text-zinc-200 disabled:opacity-45"
        >
          {(RATES as readonly number[]).includes(media.rate) ? null : <option value={String(media.rate)}>{media.rate}×</option>}
          {RATES.map((r) => (
            <option key={r} value={String(r)}>
              {r}×
            </option>
          ))}
        </select>
      </div>
      {isHost ? (
        <label className="flex shrink-0 cursor-pointer items-center gap-1.5 text-xs text-zinc-300">
          <input
            type="checkbox"
            className="size-3.5 accent-violet-500"
            checked={settings.anyone_can_pause}
            disabled={saving}
            onChange={(e) => void change({ anyone_can_pause: e.target.checked })}
          />
          Anyone can pause
        </label>
      ) : null}
      {shownError || settingsError || !allowed ? (
        <p role={shownError || settingsError ? "alert" : undefined} className={`w-full text-xs ${shownError || settingsError ? "text-red-400" : "text-zinc-500"}`}>
          {shownError ?? settingsError ?? "The host lets only the host and the holder of the remote control playback."}
        </p>
      ) : null}
    </div>
  );
}
