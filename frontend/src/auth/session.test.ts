import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthSession } from "./session";
import { memoryTokenStore } from "./tokenStore";

const USER = { id: "u1", email: "ana@example.com", username: "ana", is_active: true, is_superuser: false, is_verified: false, created_at: "2026-01-01T00:00:00Z" };

/** A fake control plane: rotating refresh tokens (a reused one is refused), a protected route. */
function server() {
  let generation = 1;
  const calls: string[] = [];
  let validAccess = "access-1";
  const fetchFn = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    calls.push(`${req.method} ${path}`);
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (path === "/api/auth/refresh") {
      const { refresh_token } = (await req.json()) as { refresh_token: string };
      if (refresh_token !== `refresh-${generation}`) return json(401, { code: "refresh_token_reused", detail: "reused" });
      generation += 1;
      validAccess = `access-${generation}`;
      return json(200, { access_token: validAccess, refresh_token: `refresh-${generation}`, token_type: "bearer", expires_in: 900 });
    }
    if (path === "/api/auth/login") {
      return json(200, { access_token: validAccess, refresh_token: `refresh-${generation}`, token_type: "bearer", expires_in: 900 });
    }
    if (path === "/api/auth/logout") return new Response(null, { status: 204 });
    if (req.headers.get("authorization") !== `Bearer ${validAccess}`) return json(401, { code: "not_authenticated", detail: "Not signed in" });
    if (path === "/api/users/me") return json(200, USER);
    return json(404, { code: "not_found", detail: "Not Found" });
  };
  return {
    fetchFn,
    calls,
    expireAccess: () => {
      validAccess = "rotated-on-the-server";
    },
  };
}

const direct = <T,>(_name: string, fn: () => Promise<T>) => fn();

describe("AuthSession", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] }));
  afterEach(() => vi.useRealTimers());

  it("signs back in on load from the stored refresh token and rotates it", async () => {
    const s = server();
    const store = memoryTokenStore("refresh-1");
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(session.snapshot()).toEqual({ status: "signed-in", user: USER });
    expect(store.read()).toBe("refresh-2");
  });

  it("is signed out when nothing is stored, and when the stored token is refused", async () => {
    const none = new AuthSession(memoryTokenStore(), server().fetchFn, direct, Date.now, "http://test");
    await none.bootstrap();
    expect(none.snapshot().status).toBe("signed-out");
    const store = memoryTokenStore("refresh-old");
    const stale = new AuthSession(store, server().fetchFn, direct, Date.now, "http://test");
    await stale.bootstrap();
    expect(stale.snapshot().status).toBe("signed-out");
    expect(store.read()).toBeNull();
  });

  it("refreshes once for concurrent callers (never presents one token twice)", async () => {
    const s = server();
    const session = new AuthSession(memoryTokenStore("refresh-1"), s.fetchFn, direct, Date.now, "http://test");
    const [a, b] = await Promise.all([session.refresh(), session.refresh()]);
    expect(a).toBe("access-2");
    expect(b).toBe("access-2");
    expect(s.calls.filter((c) => c.endsWith("/refresh"))).toHaveLength(1);
  });

  it("refreshes before expiry, silently", async () => {
    const s = server();
    const store = memoryTokenStore("refresh-1");
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    expect(await session.accessToken()).toBe("access-2");
    await vi.advanceTimersByTimeAsync(900_000 * 0.8 + 10);
    expect(store.read()).toBe("refresh-3");
    expect(await session.accessToken()).toBe("access-3");
  });

  it("tells onTokenRefreshed listeners every new access token, until they unsubscribe", async () => {
    const s = server();
    const session = new AuthSession(memoryTokenStore("refresh-1"), s.fetchFn, direct, Date.now, "http://test");
    const seen: string[] = [];
    const unsubscribe = session.onTokenRefreshed((t) => seen.push(t));
    await session.bootstrap();
    await vi.advanceTimersByTimeAsync(900_000 * 0.8 + 10);
    expect(seen).toEqual(["access-2", "access-3"]);
    unsubscribe();
    await session.refresh();
    expect(seen).toEqual(["access-2", "access-3"]);
  });

  it("retries a request that came back 401 once, with a fresh token", async () => {
    const s = server();
    const session = new AuthSession(memoryTokenStore("refresh-1"), s.fetchFn, direct, Date.now, "http://test");
    await session.bootstrap();
    s.expireAccess();
    const { data, response } = await session.api.GET("/api/users/me");
    expect(response.status).toBe(200);
    expect(data?.username).toBe("ana");
    expect(s.calls.slice(-3)).toEqual(["GET /api/users/me", "POST /api/auth/refresh", "GET /api/users/me"]);
  });

  it("logs in, and logs out of this device", async () => {
    const s = server();
    const store = memoryTokenStore();
    const session = new AuthSession(store, s.fetchFn, direct, Date.now, "http://test");
    const user = await session.login("ana", "pw");
    expect(user.username).toBe("ana");
    expect(store.read()).toBe("refresh-1");
    await session.logout();
    expect(store.read()).toBeNull();
    expect(session.snapshot().status).toBe("signed-out");
    expect(s.calls).toContain("POST /api/auth/logout");
  });
});
