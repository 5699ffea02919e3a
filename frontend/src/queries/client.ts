// The app's one QueryClient and its defaults for every query of the layer.
import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/errors";

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
