import { AlertTriangle, Gauge, Loader2, Maximize, Minimize, Volume2, VolumeX } from "lucide-react";
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Button } from "../components/ui/button";
import { useQuality } from "../hooks/useQuality";
import { attachInput } from "../realtime/inputController";
import { LIMITING_WORDS } from "../realtime/quality";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";
import { CursorOverlay } from "./CursorOverlay";
import { QualityMenu } from "./QualityMenu";
import { StageProgress } from "./StageProgress";

interface Props {
  client: RoomClient | null;
  stream: MediaStream | null;
  isHolder: boolean;
  /** Whether the room's stage (the element the page puts in fullscreen) is in fullscreen. */
  fullscreen: boolean;
  onToggleFullscreen: () => void;
  /** Drawn over the picture (reactions, pointers, the fullscreen chat), given the video element. */
  overlays?: (video: HTMLVideoElement | null) => ReactNode;
  /** Between the picture and the stream's own bar (the media bar). */
  below?: ReactNode;
  /** In the stream's bar, before the quality menu (reactions). */
  barExtra?: ReactNode;
}

export function StreamView({ client, stream, isHolder, fullscreen, onToggleFullscreen, overlays, below, barExtra }: Props) {
  const room = useRoomStore((s) => s.room);
  const peer = useRoomStore((s) => s.peer);
  const agentConnected = useRoomStore((s) => s.agentConnected);
  const holderId = useRoomStore((s) => s.holderId);
  const area = useRef<HTMLDivElement>(null);
  const videoRef = useRef<HTMLVideoElement>(null);
  // The element, once mounted, for effects and the cursor overlay (a ref is not reactive).
  const [video, setVideo] = useState<HTMLVideoElement | null>(null);
  const [soundBlocked, setSoundBlocked] = useState(false);
  const [muted, setMuted] = useState(false);
  const [volume, setVolume] = useState(1);
  const quality = useQuality(client);
  const holderRef = useRef(isHolder);
  useEffect(() => {
    holderRef.current = isHolder;
  }, [isHolder]);
  useEffect(() => setVideo(videoRef.current), []);

  // Play with sound if the browser allows it; otherwise muted, with a button to turn sound on.
  useEffect(() => {
    const el = videoRef.current;
    if (!el) return;
    if (el.srcObject !== stream) el.srcObject = stream;
    if (!stream) return;
    el.muted = muted;
    el.play().catch((err: unknown) => {
      if (err instanceof DOMException && err.name === "NotAllowedError") {
        el.muted = true;
        setSoundBlocked(true);
        void el.play().catch(() => undefined);
      }
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a new stream restarts playback
  }, [stream]);

  useEffect(() => {
    const el = videoRef.current;
    if (!el) return;
    el.volume = volume;
    if (!soundBlocked) el.muted = muted;
  }, [volume, muted, soundBlocked]);

  useEffect(() => {
    const el = area.current;
    const v = videoRef.current;
    if (!el || !v || !client) return;
    return attachInput({
      target: el,
      video: v,
      isHolder: () => holderRef.current,
      sink: {
        channelsOpen: () => client.streamPeer?.channelsOpen ?? false,
        pointer: (b) => void client.streamPeer?.sendPointer(b),
        input: (b) => void client.streamPeer?.sendInput(b),
        fallback: (type, data) => void client.send(type, data),
        paste: (text) => void client.clipFiles.paste(text),
      },
    });
  }, [client]);

  const enableSound = () => {
    const el = videoRef.current;
    if (!el) return;
    el.muted = false;
    setMuted(false);
    setSoundBlocked(false);
    void el.play().catch(() => undefined);
  };

  const status = room?.status;
  const live = status === "ready" || status === "idle";
  let overlay: React.ReactNode = null;
  if (status === "failed") {
    overlay = (
      <div className="max-w-md rounded-xl border border-red-500/40 bg-zinc-900/95 p-5 text-center" role="alert">
        <AlertTriangle className="mx-auto mb-2 size-6 text-red-400" aria-hidden />
        <p className="font-medium text-zinc-50">The room’s browser could not start</p>
        <p className="mt-1 text-sm text-zinc-400">{room?.status_reason ?? "No reason was given."}</p>
      </div>
    );
  } else if (status === "creating" || status === "starting") {
    overlay = <StageProgress stage={room?.stage ?? null} />;
  } else if (live && !agentConnected) {
    overlay = <Waiting text="The room’s browser is reconnecting…" />;
  } else if (live && (!stream || peer === "connecting" || peer === "reconnecting")) {
    overlay = <Waiting text="Connecting to the stream…" />;
  }

  return (
    <div className="flex min-h-0 flex-1 flex-col bg-black">
      <div
        ref={area}
        tabIndex={isHolder ? 0 : -1}
        aria-label="Drive the browser"
        data-stream-area=""
        // The holder's fingers drive the room's page (taps, drags: realtime/touchGestures.ts),
        // so the phone must not scroll or zoom this page under them.
        className={`relative min-h-0 flex-1 outline-none ${isHolder ? "cursor-default touch-none select-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-violet-500" : ""}`}
        onContextMenu={(e) => isHolder && e.preventDefault()}
      >
        <video ref={videoRef} aria-label="Shared browser" className="absolute inset-0 h-full w-full object-contain" autoPlay playsInline />
        <CursorOverlay client={client} video={video} visible={holderId !== null && !isHolder} />
        {overlays?.(video)}
        {overlay ? <div className="absolute inset-0 flex items-center justify-center bg-black/60">{overlay}</div> : null}
        {soundBlocked && stream ? (
          <div className="absolute inset-x-0 top-4 flex justify-center">
            <Button onClick={enableSound} className="shadow-lg">
              <Volume2 aria-hidden /> Click to enable sound
            </Button>
          </div>
        ) : null}
      </div>
      {below}
      {/* On a phone the connection figures take a row of their own under the buttons (beside
          five reactions they were cut to a few letters). */}
      <div className="flex min-h-10 shrink-0 flex-wrap items-center gap-x-2 border-t border-zinc-800 bg-zinc-950 px-2 py-0.5 text-zinc-300 sm:py-0">
        <Button variant="ghost" size="iconSm" aria-label={muted || soundBlocked ? "Sound on" : "Sound off"} onClick={() => (soundBlocked ? enableSound() : setMuted(!muted))}>
          {muted || soundBlocked ? <VolumeX aria-hidden /> : <Volume2 aria-hidden />}
        </Button>
        <input
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={volume}
          aria-label="Stream volume"
          className="hidden w-24 accent-violet-500 sm:block"
          onChange={(e) => setVolume(Number(e.target.value))}
        />
        <div className="order-last flex h-7 min-w-0 basis-full items-center sm:order-none sm:h-10 sm:basis-auto">
          <StatsLine words={quality.words} />
        </div>
        <div className="ml-auto" />
        {barExtra}
        <QualityMenu cap={quality.cap} onChoose={quality.choose} />
        <Button variant="ghost" size="iconSm" aria-label={fullscreen ? "Exit fullscreen" : "Fullscreen"} title={fullscreen ? "Exit fullscreen (F)" : "Fullscreen (F)"} onClick={onToggleFullscreen}>
          {fullscreen ? <Minimize aria-hidden /> : <Maximize aria-hidden />}
        </Button>
      </div>
    </div>
  );
}

function Waiting({ text }: { text: string }) {
  return (
    <div className="flex items-center gap-2 rounded-lg bg-zinc-900/90 px-4 py-3 text-sm text-zinc-200" role="status">
      <Loader2 className="size-4 animate-spin" aria-hidden /> {text}
    </div>
  );
}

/** Connection quality: the rung the agent sends this viewer and what limits it, RTT from the
 * data-channel ping, fps, bitrate, packet loss. */
function StatsLine({ words }: { words: ReturnType<typeof useQuality>["words"] }) {
  const stats = useRoomStore((s) => s.stats);
  const peer = useRoomStore((s) => s.peer);
  if (peer !== "connected") return <span className="truncate whitespace-nowrap text-xs text-zinc-500">No stream</span>;
  // Connected, the first receiver figures not in yet (they come about once a second).
  if (!stats) return <span className="truncate whitespace-nowrap text-xs text-zinc-500">Measuring…</span>;
  const rtt = stats.rttMs;
  const loss = stats.packetLossPct ?? 0;
  const tone = (rtt ?? 0) > 250 || loss > 5 ? "text-red-300" : (rtt ?? 0) > 120 || loss > 1 ? "text-amber-300" : "text-emerald-300";
  return (
    <span className="flex min-w-0 items-center gap-3 overflow-hidden whitespace-nowrap text-xs tabular-nums text-zinc-400" aria-label="Connection quality">
      <Gauge className={`size-4 ${tone}`} aria-hidden />
      {words ? <span className="text-zinc-200">{words.rung}</span> : null}
      {words?.why ? (
        <span className={`truncate ${words.why === LIMITING_WORDS ? "text-amber-300" : "text-zinc-400"}`} title={words.why}>
          {words.why}
        </span>
      ) : null}
      <span>{rtt !== null ? `${Math.round(rtt)} ms` : "– ms"}</span>
      <span>{stats.fps !== null ? `${Math.round(stats.fps)} fps` : "– fps"}</span>
      <span>{stats.bitrateKbps === null ? "–" : stats.bitrateKbps >= 1000 ? `${(stats.bitrateKbps / 1000).toFixed(1)} Mb/s` : `${Math.round(stats.bitrateKbps)} kb/s`}</span>
      <span>{`${loss.toFixed(1)} % loss`}</span>
      {stats.width ? <span className="hidden xl:inline">{`${stats.width}×${stats.height} ${stats.codec ?? ""}`}</span> : null}
    </span>
  );
}
