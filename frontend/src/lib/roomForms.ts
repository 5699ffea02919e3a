// The dashboard's forms' client-side rules and their words: the output is what the API takes
// (a trimmed title, a capacity or none, a start page with its scheme or none; a room code).
import { z } from "zod/mini";
import { parseRoomInput } from "./roomCode";
import { normaliseStartUrl, parseCapacity } from "./startUrl";

/** Most people a room may hold (the server's limit too). */
export const MAX_PEOPLE = 50;

/** A text field parsed by `parse`: its value, or its error as the field's. */
function parsed<T>(parse: (raw: string) => { ok: true; value: T } | { ok: false; error: string }) {
  return z.pipe(
    z.string(),
    z.transform((raw: string, ctx) => {
      const r = parse(raw);
      if (r.ok) return r.value;
      ctx.issues.push({ code: "custom", message: r.error, input: raw });
      return z.NEVER;
    }),
  );
}

export const createRoomSchema = z.object({
  title: z.string().check(z.trim(), z.minLength(1, "Give the room a title, like “Friday movie night”.")),
  capacity: parsed((raw) => parseCapacity(raw, MAX_PEOPLE)),
  start_url: z.pipe(z.string(), z.transform(normaliseStartUrl)),
  // The room's browser blocks ads (checked by default; the host can change it in the room).
  block_ads: z.boolean(),
  // "Keep my browser profile" and, with it, "Let others drive my signed-in browser" (issue 22).
  keep_profile: z.boolean(),
  profile_others_drive: z.boolean(),
});

/** An invite link or a room code, to the code. */
export const joinRoomSchema = z.object({
  room: parsed((raw) => {
    const r = parseRoomInput(raw);
    return r.ok ? { ok: true, value: r.code } : r;
  }),
});
