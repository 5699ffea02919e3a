// The host's room settings (issue 21): read from the room store (room.state, room.settings),
// changed over REST through the queries layer (`PATCH /api/rooms/{code}/settings`), whose
// broadcast updates everyone's store.
import { useCallback, useState } from "react";
import { errorText } from "../api/errors";
import { useChangeRoomSettings } from "../queries/rooms";
import type { RoomSettings } from "../realtime/protocol";
import { useRoomStore } from "../store/roomStore";

/** The settings as shown: what the host just chose shows at once (a checkbox that flicked back
 * until the server answered would look broken), and falls back if the server refuses it. */
export function useRoomSettings(code: string) {
  const stored = useRoomStore((s) => s.settings);
  const [asked, setAsked] = useState<Partial<RoomSettings> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const mutation = useChangeRoomSettings();
  const { mutateAsync } = mutation;
  const change = useCallback(
    async (patch: Partial<RoomSettings>) => {
      setAsked((a) => ({ ...a, ...patch }));
      setError(null);
      try {
        const next = await mutateAsync({ code, patch });
        // The broadcast brings the same; apply the answer too so this tab never waits for it.
        useRoomStore.getState().update((v) => ({ ...v, settings: { ...v.settings, ...next } }));
      } catch (err) {
        setError(errorText(err));
      } finally {
        setAsked(null);
      }
    },
    [code, mutateAsync],
  );
  const settings = asked ? { ...stored, ...asked } : stored;
  return { settings, saving: asked !== null, error, change };
}
