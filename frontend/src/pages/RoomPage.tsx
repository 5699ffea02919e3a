import { AlertTriangle, Clock, DoorClosed } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useLocation, useParams } from "react-router-dom";
import { buttonVariants } from "../components/ui/button";
import { useRoom } from "../hooks/useRoom";
import { useFullscreen, useRoomShortcuts } from "../hooks/useTogether";
import { mayControlMedia } from "../realtime/mediaClock";
import type { RoomShortcut } from "../realtime/shortcuts";
import { AdBlockToggle } from "../room/AdBlockToggle";
import { ChatOverlay } from "../room/ChatOverlay";
import { ClipFilesLayer } from "../room/ClipFilesLayer";
import { ChatPanel } from "../room/ChatPanel";
import { MediaBar } from "../room/MediaBar";
import { PointerOverlay } from "../room/PointerOverlay";
import { QueuePanel } from "../room/QueuePanel";
import { ReactionBar } from "../room/ReactionBar";
import { ReactionsOverlay } from "../room/ReactionsOverlay";
import { NavBar } from "../room/NavBar";
import { ParticipantsPanel } from "../room/ParticipantsPanel";
import { RemoteBar } from "../room/RemoteBar";
import { StreamView } from "../room/StreamView";
import { TabStrip } from "../room/TabStrip";
import { TopBar } from "../room/TopBar";
import { useRoomStore } from "../store/roomStore";

export function RoomPage() {
  const { code = "" } = useParams();
  const member = (useLocation().state as { member?: boolean } | null)?.member === true;
  const { client, stream, speaking } = useRoom(code, member);
  const you = useRoomStore((s) => s.you);
  const holderId = useRoomStore((s) => s.holderId);
  const ended = useRoomStore((s) => s.ended);
  const fatal = useRoomStore((s) => s.fatal);
  const warning = useRoomStore((s) => s.warning);
  const title = useRoomStore((s) => s.room?.title);
  const socket = useRoomStore((s) => s.socket);
  const peer = useRoomStore((s) => s.peer);
  const isHolder = you !== null && holderId === you.user_id;
  // The room's stage goes fullscreen, not the bare video: stream, overlays, media bar, remote bar.
  const stage = useRef<HTMLDivElement>(null);
  const { fullscreen, toggle: toggleFullscreen } = useFullscreen(stage);
  const [pointButton, setPointButton] = useState(false);
  const [pointKey, setPointKey] = useState(false);
  const pointing = pointButton || pointKey;

  const onShortcut = useCallback(
    (s: RoomShortcut) => {
      if (s === "fullscreen") toggleFullscreen();
      else if (s === "point_start") setPointKey(true);
      else if (s === "point_end") setPointKey(false);
      else if (s === "toggle_play") {
        const { media, settings, you: me, holderId: holder } = useRoomStore.getState();
        if (media && mayControlMedia(settings, me, holder)) client?.mediaCommand(!media.paused && !media.ended ? "pause" : "play");
      }
    },
    [client, toggleFullscreen],
  );
  useRoomShortcuts(onShortcut, () => isHolder && document.activeElement?.hasAttribute("data-stream-area") === true);
  // A P held while the tab lost focus never sends its key-up here.
  useEffect(() => {
    const off = () => setPointKey(false);
    window.addEventListener("blur", off);
    return () => window.removeEventListener("blur", off);
  }, []);

  useEffect(() => {
    document.title = title ? `${title} · Watch Party` : "Room · Watch Party";
    return () => {
      document.title = "Watch Party";
    };
  }, [title]);

  if (ended || fatal) {
    return <RoomGone title={ended ? "This room has ended" : "You can’t be in this room"} reason={ended ? endedWords(ended.reason) : (fatal ?? "")} />;
  }

  return (
    <div className="flex h-dvh flex-col bg-zinc-950 text-zinc-100">
      <TopBar code={code} />
      {socket === "reconnecting" || (peer === "reconnecting" && socket === "open") ? (
        <div className="flex items-center justify-center gap-2 bg-amber-500/15 py-1 text-sm text-amber-100" role="status">
          Reconnecting… {socket === "reconnecting" ? "to the room" : "to the stream"}
        </div>
      ) : null}
      {warning ? (
        <div className="flex items-center justify-center gap-2 bg-red-500/15 py-1 text-sm text-red-100" role="alert">
          <Clock className="size-4" aria-hidden /> {warning.detail}
        </div>
      ) : null}
      <div className="flex min-h-0 flex-1 flex-col overflow-y-auto md:flex-row md:overflow-hidden">
        <main className="flex min-h-[50vh] min-w-0 flex-1 flex-col md:basis-[74%]">
          <TabStrip client={client} isHolder={isHolder} />
          <NavBar client={client} isHolder={isHolder}>
            <AdBlockToggle code={code} />
          </NavBar>
          <div ref={stage} className="relative flex min-h-0 flex-1 flex-col bg-black">
            {/* Beside the stream, not over its input area: its clicks stay this page's. */}
            {isHolder ? <ClipFilesLayer client={client} /> : null}
            <StreamView
              client={client}
              stream={stream}
              isHolder={isHolder}
              fullscreen={fullscreen}
              onToggleFullscreen={toggleFullscreen}
              overlays={(video) => (
                <>
                  <PointerOverlay client={client} video={video} active={pointing} />
                  <ReactionsOverlay client={client} />
                  {fullscreen ? <ChatOverlay client={client} /> : null}
                </>
              )}
              below={<MediaBar client={client} code={code} />}
              barExtra={<ReactionBar client={client} pointing={pointButton} onPointing={setPointButton} />}
            />
            <RemoteBar client={client} code={code} />
          </div>
        </main>
        <aside className="flex min-h-[75dvh] w-full flex-col md:min-h-0 border-l border-zinc-800 bg-zinc-950 md:w-[26%] md:min-w-[300px] md:max-w-[420px]" aria-label="Room">
          <ParticipantsPanel client={client} code={code} speaking={speaking} />
          <QueuePanel client={client} code={code} />
          <ChatPanel client={client} code={code} />
        </aside>
      </div>
    </div>
  );
}

function endedWords(reason: string): string {
  const r = reason.trim();
  if (!r) return "The room has ended.";
  return r.charAt(0).toUpperCase() + r.slice(1) + (/[.!?]$/.test(r) ? "" : ".");
}

function RoomGone({ title, reason }: { title: string; reason: string }) {
  return (
    <div className="flex h-dvh items-center justify-center bg-zinc-950 p-6 text-zinc-100">
      <div className="max-w-md rounded-xl border border-zinc-800 bg-zinc-900/80 p-8 text-center" role="alert">
        {title.startsWith("This room has ended") ? <DoorClosed className="mx-auto mb-3 size-8 text-zinc-400" aria-hidden /> : <AlertTriangle className="mx-auto mb-3 size-8 text-amber-400" aria-hidden />}
        <h1 className="text-xl font-semibold">{title}</h1>
        <p className="mt-2 text-zinc-400">{reason}</p>
        <Link to="/dashboard" className={`${buttonVariants()} mt-6`}>
          Back to the dashboard
        </Link>
      </div>
    </div>
  );
}
