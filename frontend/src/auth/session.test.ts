import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthSession } from "./session";
import { memoryTokenStore, storageTokenStore } from "./tokenStore";

const USER = { id: "u1", email: "ana@example.com", username: "ana", is_active: true, is_superuser: false, is_verified: false, created_at: "2026-01-01T00:00:00Z" };

/** An access token as the server makes it: a JWT whose payload names the session (`sid`). */
const jwt = (n: number) => `h.${btoa(JSON.stringify({ sub: "u1", sid: "sess-1", n }))}.sig`;

/**
 * A fake control plane and the browser's cookie jar: login and refresh (with
 * `X-Token-Transport: cookie`) set the HttpOnly refresh cookie, which the page never sees; a
 * refresh presents the jar's cookie (or a body token) and a reused one is refused.
 */
function server(cookie: string | null = null) {
  let generation = 1;
  let jar = cookie;
  const calls: string[] = [];
  const bodies: string[] = [];
  let validAccess = jwt(1);
  const fetchFn = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    calls.push(`${req.method} ${path}`);
    const text = await req.clone().text();
    const json = (status: number, body: unknown) => {
      const out = JSON.stringify(body);
      bodies.push(out);
      return new Response(out, { status, headers: { "content-type": "application/json" } });
    };
    const cookieMode = req.headers.get("x-token-transport") === "cookie";
    if (path === "/api/auth/refresh") {
      const presented = text ? (JSON.parse(text) as { refresh_token: string }).refresh_token : cookieMode ? jar : null;
      if (presented !== `refresh-${generation}`) return json(401, { code: "invalid_refresh_token", detail: "invalid" });
      generation += 1;
      validAccess = jwt(generation);
      if (cookieMode) jar = `refresh-${generation}`;
      return json(200, { access_token: validAccess, refresh_token: cookieMode ? null : `refresh-${generation}`, token_type: "bearer", expires_in: 900 });
    }
    if (path === "/api/auth/login") {
      if (cookieMode) jar = `refresh-${generation}`;
      return json(200, { access_token: validAccess, refresh_token: cookieMode ? null : `refresh-${generation}`, token_type: "bearer", expires_in: 900 });
    }
    if (path === "/api/auth/logout") {
      if (cookieMode) jar = null;
      return new Response(null, { status: 204 });
    }
    if (req.headers.get("authorization") !== `Bearer ${validAccess}`) return json(401, { code: "not_authenticated", detail: "Not signed in" });
    if (path === "/api/users/me") return json(200, USER);
    return json(404, { code: "not_found", detail: "Not Found" });
  };
  return {
    fetchFn,
    calls,
    /** Every body the page received: the refresh token must never be in one. */
    bodies,
    jar: () => jar,
    access: (n: number) => jwt(n),
    expireAccess: () => {
      validAccess = "rotated-on-the-server";
    },
  };
}

const direct = <T,>(_name: string, fn: () => Promise<T>) => fn();

describe("AuthSession", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }));
  afterEach(() => vi.useRealTimers());

  it("signs back in on load by the refresh cookie, which it never sees, and rotates it", async () => {
    const s = server("refresh-1");
    const store = memoryTokenStore(true);
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(session.snapshot()).toEqual({ status: "signed-in", user: USER });
    expect(s.jar()).toBe("refresh-2");
    expect(s.bodies.some((b) => b.includes("refresh-"))).toBe(false);
    expect(store.signedIn()).toBe(true);
  });

  it("is signed out without asking when this browser never signed in, and when the cookie is refused", async () => {
    const fresh = server("refresh-1");
    const none = new AuthSession(memoryTokenStore(false), fresh.fetchFn, direct, Date.now, "http://test");
    await none.bootstrap();
    expect(none.snapshot().status).toBe("signed-out");
    expect(fresh.calls).toEqual([]);
    const store = memoryTokenStore(true);
    const stale = new AuthSession(store, server("refresh-old").fetchFn, direct, Date.now, "http://test");
    await stale.bootstrap();
    expect(stale.snapshot().status).toBe("signed-out");
    expect(store.signedIn()).toBe(false);
  });

  it("moves the refresh token an older version stored into the cookie, once", async () => {
    const s = server(null);
    const store = memoryTokenStore(false, "refresh-1");
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(session.snapshot().status).toBe("signed-in");
    expect(s.jar()).toBe("refresh-2");
    expect(store.takeLegacyToken()).toBeNull();
    expect(store.signedIn()).toBe(true);
  });

  it("refreshes once for concurrent callers (never presents one cookie twice)", async () => {
    const s = server("refresh-1");
    const session = new AuthSession(memoryTokenStore(true), s.fetchFn, direct, Date.now, "http://test");
    const [a, b] = await Promise.all([session.refresh(), session.refresh()]);
    expect(a).toBe(s.access(2));
    expect(b).toBe(s.access(2));
    expect(s.calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
  });

  it("refreshes before expiry, silently", async () => {
    const s = server("refresh-1");
    const session = new AuthSession(memoryTokenStore(true), s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(await session.accessToken()).toBe(s.access(2));
    await vi.advanceTimersByTimeAsync(900_000 * 0.8 + 10);
    expect(s.jar()).toBe("refresh-3");
    expect(await session.accessToken()).toBe(s.access(3));
  });

  it("tells onTokenRefreshed listeners every new access token, until they unsubscribe", async () => {
    const s = server("refresh-1");
    const session = new AuthSession(memoryTokenStore(true), s.fetchFn, direct, Date.now, "http://test");
    const seen: string[] = [];
    const unsubscribe = session.onTokenRefreshed((t) => seen.push(t));
    await session.bootstrap();
    await vi.advanceTimersByTimeAsync(900_000 * 0.8 + 10);
    expect(seen).toEqual([s.access(2), s.access(3)]);
    unsubscribe();
    await session.refresh();
    expect(seen).toEqual([s.access(2), s.access(3)]);
  });

  it("retries a request that came back 401 once, with a fresh token", async () => {
    const s = server("refresh-1");
    const session = new AuthSession(memoryTokenStore(true), s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    s.expireAccess();
    const { data, response } = await session.api.GET("/api/users/me");
    expect(response.status).toBe(200);
    expect(data?.username).toBe("ana");
    expect(s.calls.slice(-3)).toEqual(["GET /api/users/me", "POST /api/auth/refresh", "GET /api/users/me"]);
  });

  it("logs in and out by the cookie, and names its session", async () => {
    const s = server();
    const store = memoryTokenStore();
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    const user = await session.login("ana", "pw");
    expect(user.username).toBe("ana");
    expect(s.jar()).toBe("refresh-1");
    expect(store.signedIn()).toBe(true);
    expect(session.sessionId()).toBe("sess-1");
    await session.logout();
    expect(s.jar()).toBeNull();
    expect(store.signedIn()).toBe(false);
    expect(session.sessionId()).toBeNull();
    expect(session.snapshot().status).toBe("signed-out");
    expect(s.calls).toContain("POST /api/auth/logout");
    expect(s.bodies.some((b) => b.includes("refresh-"))).toBe(false);
  });
});

/** A Storage that records every value written to it. */
function recordingStorage(initial: Record<string, string> = {}) {
  const items = new Map(Object.entries(initial));
  const written: string[] = [];
  const storage = {
    get length() {
      return items.size;
    },
    key: (i: number) => [...items.keys()][i] ?? null,
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => {
      written.push(`${k}=${v}`);
      items.set(k, v);
    },
    removeItem: (k: string) => void items.delete(k),
    clear: () => items.clear(),
  } satisfies Storage;
  return { storage, items, written };
}

describe("the token store", () => {
  it("keeps no token in storage: a sign-in leaves a hint, the old stored token is removed", async () => {
    const s = server(null);
    const rec = recordingStorage({ "wp.refresh": "refresh-1" });
    const session = new AuthSession(storageTokenStore(() => rec.storage), s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(session.snapshot().status).toBe("signed-in");
    await session.refresh();
    expect(Object.fromEntries(rec.items)).toEqual({ "wp.session": "1" });
    expect(rec.written.every((w) => w === "wp.session=1")).toBe(true);
    await session.logout();
    expect(rec.items.size).toBe(0);
    const after = new AuthSession(storageTokenStore(() => rec.storage), s.fetchFn, direct, Date.now, "http://test");
    const calls = s.calls.length;
    await after.bootstrap();
    expect(after.snapshot().status).toBe("signed-out");
    expect(s.calls.length).toBe(calls); // signed out: no refresh asked
  });

  it("asks the server when storage is disabled", () => {
    const broken = storageTokenStore(() => {
      throw new Error("SecurityError");
    });
    expect(broken.signedIn()).toBe(true);
    expect(broken.takeLegacyToken()).toBeNull();
    broken.setSignedIn(true);
  });
});
