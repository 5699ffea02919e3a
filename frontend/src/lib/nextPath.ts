const HOME = "/dashboard";
// A throwaway origin to resolve against: a path that stays on it stays on ours.
const HERE = "https://here.invalid";

/**
 * Where to go after signing in: the `next` parameter if it is a path on this site, else the
 * dashboard. Refused: anything not starting with one `/` (`//host`, `/\host`, which browsers
 * read as `//host`, and every `scheme:`), control characters (a browser drops tabs and newlines
 * from a URL, so `/%09/host` would become `//host`) and backslashes anywhere; what is left is
 * resolved and must still be a path on this origin.
 */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next");
  if (next === null || !/^\/(?![/\\])/.test(next)) return HOME;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\\]/.test(next)) return HOME;
  let url: URL;
  try {
    url = new URL(next, HERE);
  } catch {
    return HOME;
  }
  // `/a/../..//host` resolves to the path `//host`, which a navigation would read as a host
  if (url.origin !== HERE || url.pathname.startsWith("//")) return HOME;
  return url.pathname + url.search + url.hash;
}
