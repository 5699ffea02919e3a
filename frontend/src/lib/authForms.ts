// The account pages' client-side rules and their words (the server judges the rest: the
// password's strength, the username's pattern, a taken e-mail). Outputs are trimmed where the
// pages sent trimmed values; passwords never are. Zod's "mini" build: the same schemas in a
// fraction of the classic build's bytes (these pages are in the first bundle).
import { z } from "zod/mini";

/** A text that must not be blank; the output is trimmed. */
const filled = (message: string) => z.string().check(z.trim(), z.minLength(1, message));

export const loginSchema = z.object({
  username: filled("Enter your username or e-mail."),
  password: z.string().check(z.minLength(1, "Enter your password.")),
});

export const registerSchema = z.object({
  email: filled("Enter your e-mail address."),
  username: filled("Choose a username."),
  password: z.string().check(z.minLength(1, "Choose a password.")),
});

export const forgotPasswordSchema = z.object({
  email: filled("Enter the e-mail address of your account."),
});

/** A new password, typed twice: the mismatch is told only once there is a password. */
export const resetPasswordSchema = z.object({ password: z.string(), confirm: z.string() }).check(
  z.superRefine(({ password, confirm }, ctx) => {
    if (password === "") ctx.addIssue({ code: "custom", path: ["password"], message: "Choose a new password." });
    else if (confirm !== password) ctx.addIssue({ code: "custom", path: ["confirm"], message: "The two passwords are not the same." });
  }),
);
