// Room codes as the control plane makes them (controlplane/rooms/codes.py): 8 characters from an
// alphabet without the look-alikes 0/o, 1/l/i. Lookups are case-insensitive.
export const ROOM_CODE_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz";
export const ROOM_CODE_LENGTH = 8;

const CODE_RE = new RegExp(`^[${ROOM_CODE_ALPHABET}]{${ROOM_CODE_LENGTH}}$`);

export type RoomInput = { ok: true; code: string } | { ok: false; error: string };

export function isRoomCode(value: string): boolean {
  return CODE_RE.test(value);
}

/**
 * A room code from what a person typed or pasted: the code itself (`k7qm3xtp`), or an invite link
 * (`http://host/room/k7qm3xtp`, with or without a trailing slash, query or fragment, or without the
 * scheme). Returns the normalised code, or a sentence saying what is wrong.
 */
export function parseRoomInput(raw: string): RoomInput {
  const text = raw.trim();
  if (text === "") return { ok: false, error: "Enter a room code or paste an invite link." };
  let candidate = text;
  if (text.includes("/")) {
    const path = linkPath(text);
    const match = path === null ? null : /(?:^|\/)room\/([^/]+)\/?$/i.exec(path);
    if (match?.[1] === undefined) {
      return { ok: false, error: "That link is not a room invite. It should end in /room/ and the code." };
    }
    candidate = decodeURIComponentSafe(match[1]);
  }
  const code = candidate.trim().toLowerCase();
  if (isRoomCode(code)) return { ok: true, code };
  return {
    ok: false,
    error: `A room code is ${ROOM_CODE_LENGTH} letters and digits, like k7qm3xtp (no 0, 1, i, l or o).`,
  };
}

/** The path of a link, without query or fragment; null if it does not parse. */
function linkPath(text: string): string | null {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.startsWith("/") ? text : `http://${text}`;
  try {
    return new URL(absolute, "http://localhost").pathname;
  } catch {
    return null;
  }
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
