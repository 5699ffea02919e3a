// Dates in words: "5 minutes ago", "in 3 days", and absolute stamps for tooltips and lists.

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** "just now", "3 minutes ago", "in 2 days", "yesterday". */
export function relativeTime(iso: string | Date, now: number = Date.now(), locale = "en"): string {
  const then = typeof iso === "string" ? Date.parse(iso) : iso.getTime();
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  const fmt = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size * 0.95 || unit === "minute") {
      return fmt.format(Math.round(seconds / size), unit);
    }
  }
  return "just now";
}

/** "12 Mar 2026, 14:05" in the reader's time zone (or the one given). */
export function formatDateTime(iso: string | Date, locale?: string, timeZone?: string): string {
  const d = typeof iso === "string" ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone,
  }).format(d);
}

/** "14:05": the time of day only. */
export function formatTime(iso: string, locale?: string, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone }).format(d);
}

/** A calendar day key ("2026-03-12") in the reader's (or the given) time zone, for grouping. */
export function dayKey(iso: string | number | Date, timeZone?: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

/** A day heading: "Today", "Yesterday", or "Tuesday, 10 March 2026". */
export function formatDay(iso: string, now: number = Date.now(), locale?: string, timeZone?: string): string {
  const key = dayKey(iso, timeZone);
  if (key === dayKey(now, timeZone)) return "Today";
  if (key === dayKey(now - 24 * 3600 * 1000, timeZone)) return "Yesterday";
  return new Intl.DateTimeFormat(locale, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone }).format(new Date(iso));
}

/** How long something lasted: "45 min", "2 h 5 min", "under a minute". */
export function durationWords(fromIso: string, toIso: string): string {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (Number.isNaN(ms) || ms < 0) return "";
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
