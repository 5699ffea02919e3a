// An API error split into what belongs next to a form's fields and what belongs above the form.
import { ApiError, errorText } from "../api/errors";

export interface FormErrors<F extends string> {
  fields: Partial<Record<F, string>>;
  form: string | null;
}

/** Friendlier words for pydantic's messages about a field (the server's words otherwise). */
const FIELD_HINTS: Record<string, (message: string) => string | null> = {
  username: (m) =>
    /pattern/i.test(m)
      ? "Use only letters, digits, dots, dashes and underscores."
      : /at least/i.test(m)
        ? "A username has at least 3 characters."
        : /at most/i.test(m)
          ? "A username has at most 32 characters."
          : null,
  email: (m) => (/email/i.test(m) ? "Enter a valid e-mail address." : null),
};

/**
 * `codes` says which field an error code belongs to (`email_taken` → `email`). Validation errors
 * (422) go to the field they name when the form has it; everything else, 429 included, to the form.
 */
export function splitError<F extends string>(err: unknown, fields: readonly F[], codes: Partial<Record<string, F>> = {}): FormErrors<F> {
  const out: FormErrors<F> = { fields: {}, form: null };
  if (!(err instanceof ApiError)) {
    out.form = errorText(err);
    return out;
  }
  if (err.status === 429) {
    out.form = err.message;
    return out;
  }
  const byCode = codes[err.code];
  if (byCode !== undefined) {
    out.fields[byCode] = sentence(err.message);
    return out;
  }
  const rest: string[] = [];
  for (const fe of err.fieldErrors) {
    const field = fields.find((f) => f === fe.field);
    if (field === undefined) {
      rest.push(fe.message);
      continue;
    }
    const text = FIELD_HINTS[field]?.(fe.message) ?? fe.message;
    out.fields[field] = out.fields[field] ?? sentence(text);
  }
  if (err.fieldErrors.length === 0) out.form = sentence(err.message);
  else if (rest.length > 0) out.form = sentence(rest.join(" "));
  return out;
}

/** Capital first letter and a full stop, so server messages read like the app's own. */
export function sentence(text: string): string {
  const t = text.trim();
  if (t === "") return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}
