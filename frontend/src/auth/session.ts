// The signed-in session, as a plain object React subscribes to (useSyncExternalStore).
//
// Contract: the access token lives only in memory and is refreshed silently at 80 % of its
// lifetime and whenever a request comes back 401. The refresh token is an HttpOnly cookie
// (`X-Token-Transport: cookie`): the page never sees it, the browser sends it to the refresh and
// logout routes only. Refreshes are single-flight within a tab and serialised across tabs with a
// Web Lock: the server rotates the cookie on every refresh and treats a replayed one as theft, so
// a tab refreshes only once the previous refresh (and its new cookie) is done.
import { toApiError } from "../api/errors";
import { createApi, unwrap, type ApiClient, type FetchFn, type TokenPair, type User } from "../api/http";
import { localTokenStore, type TokenStore } from "./tokenStore";

export type AuthStatus = "unknown" | "signed-in" | "signed-out";

export interface AuthSnapshot {
  status: AuthStatus;
  user: User | null;
}

type LockFn = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

function browserLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request(name, fn) as Promise<T>) : fn();
}

/** Refresh when less than this much of the access token's life is left (ms). */
const EARLY_MS = 30_000;

/** Asks the server to keep the refresh token in its HttpOnly cookie, out of every body. */
const COOKIE_MODE = { "X-Token-Transport": "cookie" } as const;

/** The login session an access token (a JWT) was issued for: its `sid` claim. */
function sessionIdOf(token: string): string | null {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const sid = (JSON.parse(json) as { sid?: unknown }).sid;
    return typeof sid === "string" ? sid : null;
  } catch {
    return null;
  }
}

export class AuthSession {
  private access: string | null = null;
  private expiresAt = 0;
  private inflight: Promise<string | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private snap: AuthSnapshot = { status: "unknown", user: null };
  private readonly listeners = new Set<() => void>();
  private readonly tokenListeners = new Set<(token: string) => void>();
  private readonly plain: ApiClient;
  /** The authenticated client: every request carries the access token; a 401 refreshes once and retries. */
  readonly api: ApiClient;

  constructor(
    private readonly store: TokenStore = localTokenStore,
    private readonly fetchFn: FetchFn = (r) => fetch(r),
    private readonly lock: LockFn = browserLock,
    private readonly now: () => number = Date.now,
    baseUrl = "",
  ) {
    this.plain = createApi(this.fetchFn, baseUrl);
    this.api = createApi((r) => this.authedFetch(r), baseUrl);
  }

  snapshot = (): AuthSnapshot => this.snap;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /**
   * Called with every new access token (after each refresh or login), e.g. to extend an open
   * room socket, which the server closes once the token it was opened with expires.
   */
  onTokenRefreshed = (fn: (token: string) => void): (() => void) => {
    this.tokenListeners.add(fn);
    return () => this.tokenListeners.delete(fn);
  };

  /** On page load: the refresh cookie signs us back in (asked only if this browser signed in). */
  async bootstrap(): Promise<void> {
    const legacy = this.store.takeLegacyToken();
    if (legacy === null && !this.store.signedIn()) return this.set({ status: "signed-out", user: null });
    try {
      const fresh = await (legacy !== null ? this.lock("wp-refresh", () => this.doRefresh(legacy)) : this.refresh());
      if (fresh === null) return;
      // Signed in as soon as the refresh succeeds: pages that need no profile (a room link)
      // start at once; the profile follows and fills in the name.
      this.set({ status: "signed-in", user: this.snap.user });
      await this.loadUser();
    } catch {
      // offline: stay "unknown" only briefly; the guard shows the error and retries on reload
      this.set({ status: "signed-out", user: null });
    }
  }

  async login(username: string, password: string): Promise<User> {
    const body = new URLSearchParams({ username, password });
    const res = await this.fetchFn(
      new Request(this.url("/api/auth/login"), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...COOKIE_MODE },
        credentials: "same-origin",
        body,
      }),
    );
    const json: unknown = await res.json().catch(() => null);
    if (!res.ok) throw toApiError(res.status, res.headers, json);
    this.adopt(json as TokenPair);
    return this.loadUser();
  }

  /** Log out this device: the server forgets the session and clears its cookie; the tab forgets the access token. */
  async logout(): Promise<void> {
    this.clear();
    await this.plain.POST("/api/auth/logout", { params: { header: COOKIE_MODE } }).catch(() => undefined);
  }

  /** The login session this tab is signed in with (to mark "this device"), from the access token. */
  sessionId(): string | null {
    return this.access === null ? null : sessionIdOf(this.access);
  }

  /** A valid access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    if (this.access !== null && this.expiresAt - this.now() > EARLY_MS) return this.access;
    return this.refresh();
  }

  /** Exchange the refresh token for new tokens (single-flight). Null when the session is gone. */
  refresh(): Promise<string | null> {
    this.inflight ??= this.lock("wp-refresh", () => this.doRefresh()).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  async updateUser(user: User): Promise<void> {
    this.set({ status: "signed-in", user });
  }

  /** One refresh, by the cookie (or, once, the token an older version stored: the server moves it into the cookie). */
  private async doRefresh(legacy: string | null = null): Promise<string | null> {
    const { data, error, response } = await this.plain.POST("/api/auth/refresh", {
      params: { header: COOKIE_MODE },
      ...(legacy !== null ? { body: { refresh_token: legacy } } : {}),
    });
    if (response.status === 401) {
      this.clear();
      return null;
    }
    if (!response.ok || data === undefined) throw toApiError(response.status, response.headers, error);
    this.adopt(data);
    return this.access;
  }

  private async loadUser(): Promise<User> {
    const user = await unwrap(this.api.GET("/api/users/me"));
    this.set({ status: "signed-in", user });
    return user;
  }

  private adopt(pair: TokenPair): void {
    this.access = pair.access_token;
    this.expiresAt = this.now() + pair.expires_in * 1000;
    this.store.setSignedIn(true);
    if (this.timer !== null) clearTimeout(this.timer);
    const delay = Math.max(5_000, pair.expires_in * 1000 * 0.8);
    this.timer = setTimeout(() => void this.refresh().catch(() => undefined), delay);
    for (const fn of this.tokenListeners) fn(pair.access_token);
  }

  private clear(): void {
    this.access = null;
    this.expiresAt = 0;
    this.store.setSignedIn(false);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.set({ status: "signed-out", user: null });
  }

  private async authedFetch(request: Request): Promise<Response> {
    const retry = request.clone();
    const token = await this.accessToken();
    if (token !== null) request.headers.set("authorization", `Bearer ${token}`);
    const res = await this.fetchFn(request);
    if (res.status !== 401 || token === null) return res;
    const fresh = await this.refresh();
    if (fresh === null) return res;
    retry.headers.set("authorization", `Bearer ${fresh}`);
    return this.fetchFn(retry);
  }

  private url(path: string): string {
    return new URL(path, globalThis.location?.origin ?? "http://localhost").toString();
  }

  private set(next: AuthSnapshot): void {
    if (next.status === this.snap.status && next.user === this.snap.user) return;
    this.snap = next;
    for (const fn of this.listeners) fn();
  }
}

export const session = new AuthSession();
