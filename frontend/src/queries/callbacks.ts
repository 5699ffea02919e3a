// What a page adds to a mutation of this layer. The layer's own effect on the cache runs first
// (it marks queries stale without waiting for their refetch, so a page never waits on a list it
// is leaving), then the page's (navigation, a message). Both are mutation options, not per-call
// callbacks, so they still run when the page has unmounted meanwhile (a sign-out that redirects).

export interface Callbacks<TData, TVars> {
  onSuccess?: (data: TData, vars: TVars) => unknown;
  onError?: (error: Error, vars: TVars) => unknown;
}

/** `first` (the layer's), awaited, then `second` (the page's), awaited. */
export function chain<D, V>(first: ((data: D, vars: V) => unknown) | undefined, second: ((data: D, vars: V) => unknown) | undefined) {
  return async (data: D, vars: V): Promise<void> => {
    await first?.(data, vars);
    await second?.(data, vars);
  };
}
