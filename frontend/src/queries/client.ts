// The app's one QueryClient and its defaults for every query of the layer.
import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/errors";
import type { AuthSnapshot } from "../auth/session";

/** 4xx answers are final; a query retries (twice) only what might pass: network, 5xx. */
export function shouldRetry(failures: number, err: unknown): boolean {
  return failures < 2 && !(err instanceof ApiError && err.status < 500);
}

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: shouldRetry, refetchOnWindowFocus: false },
    },
  });
}

/**
 * Drops every cached answer when the tab's user signs out (logged out, this device revoked, the
 * session gone) or becomes someone else: the next person at this browser never sees the last
 * one's rooms, devices or profile, not even for a render. Returns the unsubscribe.
 */
export function forgetOnSignOut(qc: QueryClient, auth: { snapshot: () => AuthSnapshot; subscribe: (fn: () => void) => () => void }): () => void {
  let last = auth.snapshot();
  return auth.subscribe(() => {
    const now = auth.snapshot();
    const signedOut = now.status === "signed-out" && last.status !== "signed-out";
    const someoneElse = now.user !== null && last.user !== null && now.user.id !== last.user.id;
    if (signedOut || someoneElse) qc.removeQueries();
    last = now;
  });
}
