/** Where to go after logging in: the `next` parameter if it is a path on this site. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next");
  return next !== null && next.startsWith("/") && !next.startsWith("//") ? next : "/dashboard";
}
