// The host's room settings (issue 21): read from the room store (room.state, room.settings),
// changed over REST (`PATCH /api/rooms/{code}/settings`), whose broadcast updates everyone's store.
import { useCallback, useState } from "react";
import { errorText } from "../api/errors";
import { unwrap } from "../api/http";
import { session } from "../auth/session";
import type { RoomSettings } from "../realtime/protocol";
import { useRoomStore } from "../store/roomStore";

export function useRoomSettings(code: string) {
  const settings = useRoomStore((s) => s.settings);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const change = useCallback(
    async (patch: Partial<RoomSettings>) => {
      setSaving(true);
      setError(null);
      try {
        const next = await unwrap(patchSettings(code, patch));
        // The broadcast brings the same; apply the answer too so this tab never waits for it.
        useRoomStore.getState().update((v) => ({ ...v, settings: { ...v.settings, ...next } }));
      } catch (err) {
        setError(errorText(err));
      } finally {
        setSaving(false);
      }
    },
    [code],
  );
  return { settings, saving, error, change };
}

// TEMPORARY until the control plane's route is in the generated schema (npm run gen:api after
// merging the server's part): the same call, typed here.
type SettingsPatch = (
  path: "/api/rooms/{code}/settings",
  init: { params: { path: { code: string } }; body: Partial<RoomSettings> },
) => Promise<{ data?: RoomSettings; error?: unknown; response: Response }>;

function patchSettings(code: string, body: Partial<RoomSettings>) {
  const api = session.api as unknown as { PATCH: SettingsPatch };
  return api.PATCH("/api/rooms/{code}/settings", { params: { path: { code } }, body });
}
