// The account and dashboard forms' rules: the words are the pages' (a contract of the
// end-to-end tests), the outputs what the API takes.
import { describe, expect, it } from "vitest";
import type { z } from "zod/mini";
import { forgotPasswordSchema, loginSchema, registerSchema, resetPasswordSchema } from "./authForms";
import { createRoomSchema, joinRoomSchema } from "./roomForms";

/** Each failing field's first message, or the output. */
function check<S extends z.ZodMiniType>(schema: S, input: unknown): Record<string, string> | z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const out: Record<string, string> = {};
  for (const issue of r.error.issues) out[issue.path.join(".")] ??= issue.message;
  return out;
}

describe("account forms", () => {
  it("log in: both fields are needed; the name is trimmed, the password never", () => {
    expect(check(loginSchema, { username: " ", password: "" })).toEqual({ username: "Enter your username or e-mail.", password: "Enter your password." });
    expect(check(loginSchema, { username: " ana ", password: " pw " })).toEqual({ username: "ana", password: " pw " });
  });

  it("sign up: the three fields are needed, in the page's words", () => {
    expect(check(registerSchema, { email: "", username: " ", password: "" })).toEqual({
      email: "Enter your e-mail address.",
      username: "Choose a username.",
      password: "Choose a password.",
    });
    expect(check(registerSchema, { email: " a@b.c ", username: " ana ", password: "x" })).toEqual({ email: "a@b.c", username: "ana", password: "x" });
  });

  it("forgot password: the address is needed and sent trimmed", () => {
    expect(check(forgotPasswordSchema, { email: "  " })).toEqual({ email: "Enter the e-mail address of your account." });
    expect(check(forgotPasswordSchema, { email: " a@b.c " })).toEqual({ email: "a@b.c" });
  });

  it("reset password: a password first, then the same one twice", () => {
    expect(check(resetPasswordSchema, { password: "", confirm: "other" })).toEqual({ password: "Choose a new password." });
    expect(check(resetPasswordSchema, { password: "abc", confirm: "abd" })).toEqual({ confirm: "The two passwords are not the same." });
    expect(check(resetPasswordSchema, { password: "abc", confirm: "abc" })).toEqual({ password: "abc", confirm: "abc" });
  });
});

describe("dashboard forms", () => {
  it("create a room: a title, a capacity in range or none, a start page with its scheme or none", () => {
    const off = { block_ads: true, keep_profile: false, profile_others_drive: false };
    expect(check(createRoomSchema, { title: " ", capacity: "99", start_url: "", ...off })).toEqual({
      title: "Give the room a title, like “Friday movie night”.",
      capacity: "A room holds 1 to 50 people.",
    });
    expect(check(createRoomSchema, { title: "Movie", capacity: "2.5", start_url: "", ...off })).toEqual({ capacity: "Enter a whole number from 1 to 50." });
    expect(check(createRoomSchema, { title: " Movie ", capacity: "", start_url: "youtube.com", ...off })).toEqual({ title: "Movie", capacity: null, start_url: "https://youtube.com", ...off });
    // "Block ads" off and "Keep my browser profile" on (issue 22) pass through as chosen.
    const kept = { block_ads: false, keep_profile: true, profile_others_drive: false };
    expect(check(createRoomSchema, { title: "Movie", capacity: " 4 ", start_url: " ", ...kept })).toEqual({ title: "Movie", capacity: 4, start_url: null, ...kept });
  });

  it("join: an invite link or a code, to the code", () => {
    expect(check(joinRoomSchema, { room: "https://watch.example/room/k7qm3xtp" })).toEqual({ room: "k7qm3xtp" });
    expect(Object.keys(check(joinRoomSchema, { room: "" }))).toEqual(["room"]);
  });
});
