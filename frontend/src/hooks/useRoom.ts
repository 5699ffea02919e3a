// Bridges one RoomClient (plain TypeScript) to React: joins the room over REST, opens the
// client, mirrors its events into the room store, and hands the stream to the page.
import { useEffect, useState } from "react";
import { ApiError, errorText } from "../api/errors";
import { session } from "../auth/session";
import { useJoinRoom } from "../queries/rooms";
import { RoomClient } from "../realtime/roomClient";
import { addPendingChat } from "../store/roomReducer";
import { useRoomStore } from "../store/roomStore";

export function roomSocketUrl(code: string, loc: Location = window.location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/api/rooms/${encodeURIComponent(code)}/ws`;
}

const JOIN_WORDS: Record<string, string> = {
  room_full: "This room is full.",
  room_ended: "This room has ended.",
  kicked: "You were removed from this room.",
  not_found: "There is no room with that code. Check the link or ask for a new one.",
};

export interface RoomHandle {
  client: RoomClient | null;
  stream: MediaStream | null;
  speaking: boolean;
}

/**
 * `member`: the user is known to be in the room already (they just created it), so the REST
 * join, a round trip on the way to the first frame, is skipped.
 */
export function useRoom(code: string, member = false): RoomHandle {
  const [client, setClient] = useState<RoomClient | null>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [speaking, setSpeaking] = useState(false);
  // Stable across renders (react-query's mutateAsync); each call is its own request.
  const { mutateAsync: join } = useJoinRoom();

  useEffect(() => {
    const store = useRoomStore.getState();
    store.reset();
    let cancelled = false;
    const rc = new RoomClient({
      code,
      wsUrl: roomSocketUrl(code),
      getToken: (force) => (force ? session.refresh() : session.accessToken()),
      sink: {
        apply: (msg) => useRoomStore.getState().apply(msg),
        addPending: (msg) => useRoomStore.getState().update((v) => addPendingChat(v, msg)),
        socketStatus: (socket) => useRoomStore.getState().setLocal({ socket }),
        peerStatus: (peer) => useRoomStore.getState().setLocal({ peer }),
        stats: (stats) => useRoomStore.getState().setLocal({ stats }),
        quality: (quality) => useRoomStore.getState().setLocal({ quality }),
        qualityCap: (qualityCap) => useRoomStore.getState().setLocal({ qualityCap }),
        fatal: (fatal) => useRoomStore.getState().setLocal({ fatal }),
        stream: setStream,
        speaking: setSpeaking,
        voicePeers: (voicePeers) => useRoomStore.getState().setLocal({ voicePeers }),
      },
    });
    // The server closes a socket whose token expires: hand it every refreshed token.
    const unsubscribe = session.onTokenRefreshed((token) => rc.socket.reauthenticate(token));
    // Join (idempotent for members) before the socket, which admits participants only.
    const joined = member ? Promise.resolve() : join(code);
    joined
      .then(() => {
        if (cancelled) return;
        rc.start();
        setClient(rc);
      })
      .catch((err: unknown) => {
        if (cancelled) return;
        const words = err instanceof ApiError ? (JOIN_WORDS[err.code] ?? err.message) : errorText(err);
        useRoomStore.getState().setLocal({ fatal: words, socket: "closed" });
      });
    return () => {
      cancelled = true;
      unsubscribe();
      rc.stop();
      setClient(null);
      setStream(null);
    };
  }, [code, member, join]);

  return { client, stream, speaking };
}
