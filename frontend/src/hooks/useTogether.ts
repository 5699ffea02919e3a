// Bridges the room's watch-together parts to React: the moment-only reactions and pointers
// (plain TypeScript boards on the RoomClient), the media position between reports, the room
// page's fullscreen and its own keys.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore, type RefObject } from "react";
import type { ShownPointer, ShownReaction } from "../realtime/ephemeral";
import { mediaPosition, type PresentMedia } from "../realtime/mediaClock";
import type { RoomClient } from "../realtime/roomClient";
import { focusKind, roomShortcut, type RoomShortcut } from "../realtime/shortcuts";
import type { RoomView } from "../store/roomReducer";
import { useRoomStore } from "../store/roomStore";

const NONE: readonly never[] = [];
const noSubscribe = () => () => undefined;
const noSnapshot = () => NONE;

export function useReactions(client: RoomClient | null): readonly ShownReaction[] {
  return useSyncExternalStore(client?.reactions.subscribe ?? noSubscribe, client?.reactions.snapshot ?? noSnapshot);
}

export function usePointers(client: RoomClient | null): readonly ShownPointer[] {
  return useSyncExternalStore(client?.pointers.subscribe ?? noSubscribe, client?.pointers.snapshot ?? noSnapshot);
}

/** The media's position now, re-rendered 4 times a second while it plays. */
export function useMediaPosition(media: PresentMedia | null, receivedAt: number): number {
  const playing = media !== null && !media.paused && !media.ended;
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!playing) return;
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, [playing]);
  // A report newer than the last tick is shown as reported until the next tick.
  return media ? mediaPosition(media, receivedAt, Math.max(now, receivedAt)) : 0;
}

type RoomError = NonNullable<RoomView["lastError"]>;

/**
 * The room's last error while it is about `type` (a message type, or its family: "queue" for
 * "queue.add", "queue.remove"...), for `ms` after it came; null otherwise.
 */
export function useRecentError(type: string, ms = 5_000): RoomError | null {
  const lastError = useRoomStore((s) => s.lastError);
  const about = (e: RoomError | null): e is RoomError => e !== null && (e.type === type || (e.type?.startsWith(`${type}.`) ?? false));
  const [expired, setExpired] = useState<RoomError | null>(null);
  const relevant = about(lastError) ? lastError : null;
  useEffect(() => {
    if (relevant === null) return;
    const t = setTimeout(() => setExpired(relevant), ms);
    return () => clearTimeout(t);
  }, [relevant, ms]);
  return relevant !== null && relevant !== expired ? relevant : null;
}

/** Fullscreen for one element (the room's stage, not the bare video). */
export function useFullscreen(ref: RefObject<HTMLElement | null>): { fullscreen: boolean; toggle: () => void } {
  const [fullscreen, setFullscreen] = useState(false);
  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement !== null && document.fullscreenElement === ref.current);
    document.addEventListener("fullscreenchange", onChange);
    return () => document.removeEventListener("fullscreenchange", onChange);
  }, [ref]);
  const toggle = useCallback(() => {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    else void ref.current?.requestFullscreen().catch(() => undefined);
  }, [ref]);
  return { fullscreen, toggle };
}

/**
 * The room page's keys (realtime/shortcuts.ts): Space plays or pauses, F toggles fullscreen,
 * holding P points. `driving()` says whether the focused stream area sends keys to the room.
 */
export function useRoomShortcuts(on: (s: RoomShortcut) => void, driving: () => boolean): void {
  const handler = useRef(on);
  const isDriving = useRef(driving);
  useEffect(() => {
    handler.current = on;
    isDriving.current = driving;
  });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      const active = document.activeElement;
      const shortcut = roomShortcut(
        { key: e.key, type: e.type === "keyup" ? "keyup" : "keydown", repeat: e.repeat, ctrlKey: e.ctrlKey, altKey: e.altKey, metaKey: e.metaKey },
        { ...focusKind(active), driving: isDriving.current() },
      );
      if (shortcut === null) return;
      if (shortcut !== "point_end") e.preventDefault();
      handler.current(shortcut);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("keyup", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("keyup", onKey);
    };
  }, []);
}
