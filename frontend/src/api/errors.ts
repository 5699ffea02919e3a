// The API answers every error as `{"detail": ..., "code": ...}` with a stable code. This turns it
// into an `ApiError` and the code into words a person can act on.

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait, from `Retry-After` on a 429. */
  readonly retryAfter: number | null;
  readonly fieldErrors: FieldError[];

  constructor(status: number, code: string, message: string, retryAfter: number | null = null, fieldErrors: FieldError[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.fieldErrors = fieldErrors;
  }
}

interface ErrorBody {
  code?: unknown;
  detail?: unknown;
}

const WORDS: Record<string, string> = {
  email_taken: "An account with that e-mail already exists.",
  username_taken: "That username is taken.",
  bad_credentials: "Wrong username or password.",
  inactive_user: "This account is disabled.",
  invalid_reset_token: "This reset link is invalid, used or expired. Ask for a new one.",
  not_authenticated: "Please log in again.",
  room_full: "This room is full.",
  room_ended: "This room has ended.",
  not_found: "Not found.",
  network: "Cannot reach the server. Check your connection and try again.",
};

function validationErrors(detail: unknown): FieldError[] {
  if (!Array.isArray(detail)) return [];
  return detail.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const { loc, msg } = item as { loc?: unknown; msg?: unknown };
    const field = Array.isArray(loc) ? String(loc[loc.length - 1] ?? "") : "";
    return typeof msg === "string" ? [{ field, message: msg.replace(/^Value error, /, "") }] : [];
  });
}

/** Builds the error from a failed response's status, headers and parsed JSON body. */
export function toApiError(status: number, headers: Headers, body: unknown): ApiError {
  const { code, detail } = (typeof body === "object" && body !== null ? body : {}) as ErrorBody;
  const codeText = typeof code === "string" ? code : `http_${status}`;
  const retry = headers.get("retry-after");
  const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null;
  const fields = validationErrors(detail);
  let message = typeof detail === "string" ? detail : (WORDS[codeText] ?? `Request failed (${status})`);
  if (fields.length > 0) message = fields.map((f) => f.message).join(" ");
  if (status === 429) {
    message = retryAfter !== null ? `Too many attempts. Try again in ${waitWords(retryAfter)}.` : "Too many attempts. Try again later.";
  }
  return new ApiError(status, codeText, message, retryAfter, fields);
}

export function waitWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/** A sentence for any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return WORDS.network ?? "Network error";
  return err instanceof Error ? err.message : String(err);
}
