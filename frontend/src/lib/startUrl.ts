/** The start page as the API wants it: null when empty, `https://` added when the scheme is missing. */
export function normaliseStartUrl(raw: string): string | null {
  const text = raw.trim();
  if (text === "") return null;
  if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[^:/]+:\d+(\/|$)/.test(text)) return text;
  return `https://${text.replace(/^\/+/, "")}`;
}

/** The capacity field: null when empty, the number when it is a whole number in range, else an error. */
export function parseCapacity(raw: string, max: number): { ok: true; value: number | null } | { ok: false; error: string } {
  const text = raw.trim();
  if (text === "") return { ok: true, value: null };
  if (!/^\d+$/.test(text)) return { ok: false, error: `Enter a whole number from 1 to ${max}.` };
  const value = Number(text);
  if (value < 1 || value > max) return { ok: false, error: `A room holds 1 to ${max} people.` };
  return { ok: true, value };
}
