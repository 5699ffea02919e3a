// The dashboard's forms' client-side rules and their words: the output is what the API takes
// (a trimmed title, a capacity or none, a start page with its scheme or none; a room code).
import { z } from "zod";
import { parseRoomInput } from "./roomCode";
import { normaliseStartUrl, parseCapacity } from "./startUrl";

/** Most people a room may hold (the server's limit too). */
export const MAX_PEOPLE = 50;

export const createRoomSchema = z.object({
  title: z.string().trim().min(1, "Give the room a title, like “Friday movie night”."),
  capacity: z.string().transform((raw, ctx) => {
    const cap = parseCapacity(raw, MAX_PEOPLE);
    if (cap.ok) return cap.value;
    ctx.addIssue({ code: "custom", message: cap.error });
    return z.NEVER;
  }),
  start_url: z.string().transform(normaliseStartUrl),
});

/** An invite link or a room code, to the code. */
export const joinRoomSchema = z.object({
  room: z.string().transform((raw, ctx) => {
    const parsed = parseRoomInput(raw);
    if (parsed.ok) return parsed.code;
    ctx.addIssue({ code: "custom", message: parsed.error });
    return z.NEVER;
  }),
});
