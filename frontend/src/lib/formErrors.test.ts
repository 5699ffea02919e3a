import { describe, expect, it } from "vitest";
import { ApiError, toApiError } from "../api/errors";
import { sentence, splitError } from "./formErrors";

const FIELDS = ["email", "username", "password"] as const;
const CODES = { email_taken: "email", username_taken: "username", weak_password: "password" } as const;

function apiError(status: number, body: unknown, headers: Record<string, string> = {}): ApiError {
  return toApiError(status, new Headers(headers), body);
}

describe("splitError", () => {
  it("puts a known code next to its field", () => {
    const r = splitError(apiError(409, { code: "email_taken", detail: "An account with that e-mail already exists" }), FIELDS, CODES);
    expect(r).toEqual({ fields: { email: "An account with that e-mail already exists." }, form: null });
  });

  it("puts a weak password next to Password", () => {
    const r = splitError(apiError(400, { code: "weak_password", detail: "Password is too common" }), FIELDS, CODES);
    expect(r.fields.password).toBe("Password is too common.");
  });

  it("spreads validation errors over their fields, in friendlier words", () => {
    const body = {
      code: "validation_error",
      detail: [
        { loc: ["body", "username"], msg: "String should match pattern '^[A-Za-z0-9_.-]+$'" },
        { loc: ["body", "email"], msg: "value is not a valid email address: An email address must have an @-sign." },
      ],
    };
    const r = splitError(apiError(422, body), FIELDS, CODES);
    expect(r.fields.username).toMatch(/letters, digits/);
    expect(r.fields.email).toBe("Enter a valid e-mail address.");
    expect(r.form).toBeNull();
  });

  it("keeps validation errors on unknown fields for the form", () => {
    const body = { code: "validation_error", detail: [{ loc: ["body", "extra"], msg: "Extra inputs are not permitted" }] };
    expect(splitError(apiError(422, body), FIELDS, CODES).form).toBe("Extra inputs are not permitted.");
  });

  it("shows a 429 with its wait above the form", () => {
    const r = splitError(apiError(429, { code: "rate_limited", detail: "slow down" }, { "retry-after": "120" }), FIELDS, CODES);
    expect(r).toEqual({ fields: {}, form: "Too many attempts. Try again in 2 minutes." });
  });

  it("words network failures", () => {
    expect(splitError(new TypeError("Failed to fetch"), FIELDS).form).toMatch(/Cannot reach the server/);
  });
});

describe("sentence", () => {
  it("capitalises and ends with a stop once", () => {
    expect(sentence("that username is taken")).toBe("That username is taken.");
    expect(sentence("Done.")).toBe("Done.");
  });
});
